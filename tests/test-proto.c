#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lsp-error.h"
#include "lsp-frame-decoder.h"
#include "lsp-library.h"
#include "lsp-local-summary.h"
#include "lsp-proto.h"
#include "lsp-sync.h"
#include "lsp-test-util.h"

#define PEER_A  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define DIGEST  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HASH    "5d41402abc4b2a76b9719d911017c592e3b0c44298fc1c149afbf4c8996fb924"

static LspGameSummary *
make_summary (const char *id,
              gboolean    ready)
{
  LspGameSummary *summary = lsp_game_summary_new (id, "Some Game “Ünïcode”");

  summary->size = G_GUINT64_CONSTANT (53687091200);
  if (ready)
    {
      summary->version = g_strdup ("1.32c");
      summary->downloaded = TRUE;
      summary->manifest_hash = g_strdup (HASH);
      summary->availability = LSP_AVAILABILITY_READY;
    }
  else
    {
      summary->installed = TRUE;
      summary->availability = LSP_AVAILABILITY_LOCAL_ONLY;
    }
  return summary;
}

static GPtrArray *
make_summaries (guint       n,
                const char *prefix)
{
  GPtrArray *games = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("%s%05u", prefix, i);
      g_ptr_array_add (games, make_summary (id, i % 3 != 0));
    }
  return games;
}

/* Encodes a message to a frame, and decodes that frame again. */
static LspMessage *
roundtrip (LspMessage *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = lsp_message_encode (message, LSP_PROTO_MAX_FRAME, &error);
  g_autoptr(LspFrameDecoder) decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);
  g_autoptr(GBytes) payload = NULL;
  const guint8 *data;
  gsize size;
  LspMessage *parsed;

  g_assert_no_error (error);
  data = g_bytes_get_data (frame, &size);
  g_assert_cmpuint (lsp_frame_decoder_feed (decoder, data, size, &error), ==, size);
  g_assert_no_error (error);
  payload = lsp_frame_decoder_pop (decoder);
  g_assert_nonnull (payload);
  g_assert_cmpuint (g_bytes_get_size (payload), ==, size - 4);
  g_assert_true (lsp_frame_decoder_is_idle (decoder));

  parsed = lsp_message_parse (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload), &error);
  g_assert_no_error (error);
  g_assert_nonnull (parsed);
  g_assert_cmpint (parsed->type, ==, message->type);
  g_assert_cmpstr (parsed->type_name, ==, lsp_message_type_to_string (message->type));
  return parsed;
}

static void
assert_summaries_equal (GPtrArray *a,
                        GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    g_assert_true (lsp_game_summary_equal (g_ptr_array_index (a, i), g_ptr_array_index (b, i)));
}

static void
test_roundtrip_control (void)
{
  static const char * const features[] = { "multi-source", "zstd_2", NULL };
  g_autoptr(LspMessage) hello = lsp_message_new_hello (LSP_MESSAGE_HELLO, PEER_A, "0.0.0.0:41000", 17,
                                                       DIGEST, features, "alice-laptop");
  g_autoptr(LspMessage) ack = lsp_message_new_hello (LSP_MESSAGE_HELLO_ACK, PEER_A, "[::1]:9", 0,
                                                     DIGEST, NULL, "bob ☃");
  g_autoptr(LspMessage) get_all = lsp_message_new_get_library (FALSE, 0);
  g_autoptr(LspMessage) get_since = lsp_message_new_get_library (TRUE, 41);
  g_autoptr(LspMessage) summary = lsp_message_new_library_summary (PEER_A, LSP_PROTO_MAX_INT, DIGEST, 2000);
  g_autoptr(LspMessage) ping = lsp_message_new_ping (LSP_MESSAGE_PING, 7);
  g_autoptr(LspMessage) pong = lsp_message_new_ping (LSP_MESSAGE_PONG, LSP_PROTO_MAX_INT);
  g_autoptr(LspMessage) bye = lsp_message_new_goodbye (PEER_A, "shutting\tdown");
  g_autoptr(LspMessage) bye_silent = lsp_message_new_goodbye (PEER_A, NULL);
  g_autoptr(LspMessage) err = lsp_message_new_error (LSP_PROTO_ERROR_NOT_FOUND, FALSE, "No game “%s”", "doom");
  g_autoptr(LspMessage) get_manifest = lsp_message_new_get_manifest ("quake3", HASH);
  g_autoptr(LspMessage) get_chunk = lsp_message_new_get_chunk ("quake3", HASH, "baseq3/pak0.eti",
                                                               G_GUINT64_CONSTANT (8388608), LSP_MANIFEST_CHUNK_SIZE);
  g_autoptr(LspMessage) chunk = lsp_message_new_chunk (12, 1);
  g_autoptr(LspMessage) auth = lsp_message_new_auth (DIGEST);
  LspMessage *parsed;

  parsed = roundtrip (hello);
  g_assert_cmpstr (parsed->hello.peer_id, ==, PEER_A);
  g_assert_cmpuint (parsed->hello.proto_ver, ==, LSP_PROTO_VERSION);
  g_assert_cmpuint (parsed->hello.min_proto_ver, ==, LSP_PROTO_MIN_VERSION);
  g_assert_cmpstr (parsed->hello.listen_addr, ==, "0.0.0.0:41000");
  g_assert_cmpuint (parsed->hello.library_rev, ==, 17);
  g_assert_cmpstr (parsed->hello.library_digest, ==, DIGEST);
  g_assert_true (g_strv_equal ((const char * const *) parsed->hello.features, features));
  g_assert_cmpstr (parsed->hello.hostname, ==, "alice-laptop");
  lsp_message_unref (parsed);

  parsed = roundtrip (ack);
  g_assert_cmpstr (parsed->hello.listen_addr, ==, "[::1]:9");
  g_assert_cmpuint (g_strv_length (parsed->hello.features), ==, 0);
  g_assert_cmpstr (parsed->hello.hostname, ==, "bob ☃");
  lsp_message_unref (parsed);

  parsed = roundtrip (get_all);
  g_assert_false (parsed->get_library.has_since_rev);
  lsp_message_unref (parsed);
  parsed = roundtrip (get_since);
  g_assert_true (parsed->get_library.has_since_rev);
  g_assert_cmpuint (parsed->get_library.since_rev, ==, 41);
  lsp_message_unref (parsed);

  parsed = roundtrip (summary);
  g_assert_cmpuint (parsed->summary.library_rev, ==, LSP_PROTO_MAX_INT);
  g_assert_cmpuint (parsed->summary.game_count, ==, 2000);
  g_assert_cmpstr (parsed->summary.library_digest, ==, DIGEST);
  lsp_message_unref (parsed);

  parsed = roundtrip (ping);
  g_assert_cmpuint (parsed->ping.nonce, ==, 7);
  lsp_message_unref (parsed);
  parsed = roundtrip (pong);
  g_assert_cmpuint (parsed->ping.nonce, ==, LSP_PROTO_MAX_INT);
  lsp_message_unref (parsed);

  /* Control characters are ours to clean up before sending. */
  parsed = roundtrip (bye);
  g_assert_cmpstr (parsed->goodbye.peer_id, ==, PEER_A);
  g_assert_cmpstr (parsed->goodbye.reason, ==, "shutting down");
  lsp_message_unref (parsed);
  parsed = roundtrip (bye_silent);
  g_assert_null (parsed->goodbye.reason);
  lsp_message_unref (parsed);

  parsed = roundtrip (err);
  g_assert_cmpstr (parsed->error.code, ==, "not_found");
  g_assert_cmpstr (parsed->error.message, ==, "No game “doom”");
  g_assert_false (parsed->error.fatal);
  lsp_message_unref (parsed);

  parsed = roundtrip (get_manifest);
  g_assert_cmpstr (parsed->manifest.game_id, ==, "quake3");
  g_assert_cmpstr (parsed->manifest.manifest_hash, ==, HASH);
  g_assert_null (parsed->manifest.manifest);
  lsp_message_unref (parsed);

  parsed = roundtrip (get_chunk);
  g_assert_cmpstr (parsed->chunk.game_id, ==, "quake3");
  g_assert_cmpstr (parsed->chunk.manifest_hash, ==, HASH);
  g_assert_cmpstr (parsed->chunk.path, ==, "baseq3/pak0.eti");
  g_assert_cmpuint (parsed->chunk.offset, ==, 8388608);
  g_assert_cmpuint (parsed->chunk.length, ==, LSP_MANIFEST_CHUNK_SIZE);
  lsp_message_unref (parsed);

  parsed = roundtrip (chunk);
  g_assert_cmpuint (parsed->chunk.offset, ==, 12);
  g_assert_cmpuint (parsed->chunk.length, ==, 1);
  g_assert_null (parsed->chunk.path);
  lsp_message_unref (parsed);

  parsed = roundtrip (auth);
  g_assert_cmpstr (parsed->auth.proof, ==, DIGEST);
  lsp_message_unref (parsed);
}

static void
test_roundtrip_library (void)
{
  static const char * const removed[] = { "gone-1", "gone.2", NULL };
  g_autoptr(GPtrArray) games = make_summaries (2000, "game-");
  g_autoptr(GPtrArray) added = make_summaries (3, "new-");
  g_autoptr(GPtrArray) updated = make_summaries (2, "old-");
  g_autoptr(LspMessage) snapshot = lsp_message_new_library_snapshot (PEER_A, 99, DIGEST, games);
  g_autoptr(LspMessage) delta = lsp_message_new_library_delta (PEER_A, 99, 101, DIGEST, 2003,
                                                               added, updated, removed);
  g_autoptr(LspMessage) empty = lsp_message_new_library_delta (PEER_A, 5, 5, DIGEST, 0, NULL, NULL, NULL);
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;
  LspMessage *parsed;

  /* The frame limit's reason to be: a 2,000-game snapshot fits with room. */
  frame = lsp_message_encode (snapshot, LSP_PROTO_MAX_FRAME, &error);
  g_assert_no_error (error);
  g_test_message ("2,000-game snapshot: %" G_GSIZE_FORMAT " bytes", g_bytes_get_size (frame));
  g_assert_cmpuint (g_bytes_get_size (frame), <, LSP_PROTO_MAX_FRAME / 8);

  parsed = roundtrip (snapshot);
  g_assert_cmpuint (parsed->snapshot.library_rev, ==, 99);
  assert_summaries_equal (parsed->snapshot.games, games);
  lsp_message_unref (parsed);

  parsed = roundtrip (delta);
  g_assert_cmpuint (parsed->delta.from_rev, ==, 99);
  g_assert_cmpuint (parsed->delta.to_rev, ==, 101);
  g_assert_cmpuint (parsed->delta.game_count, ==, 2003);
  assert_summaries_equal (parsed->delta.added, added);
  assert_summaries_equal (parsed->delta.updated, updated);
  g_assert_true (g_strv_equal ((const char * const *) parsed->delta.removed, removed));
  lsp_message_unref (parsed);

  parsed = roundtrip (empty);
  g_assert_cmpuint (parsed->delta.added->len + parsed->delta.updated->len, ==, 0);
  g_assert_cmpuint (g_strv_length (parsed->delta.removed), ==, 0);
  lsp_message_unref (parsed);

  /* Too big for the frame: the encoder refuses instead of sending it. */
  g_clear_pointer (&frame, g_bytes_unref);
  frame = lsp_message_encode (snapshot, 1024, &error);
  g_assert_null (frame);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "LibrarySnapshot"));
}

static void
test_game_summary_json (void)
{
  g_autoptr(LspGameSummary) ready = make_summary ("quake3", TRUE);
  g_autoptr(LspGameSummary) local = make_summary ("aoe2", FALSE);
  g_autoptr(JsonNode) node = lsp_game_summary_to_json (ready);
  g_autoptr(JsonNode) local_node = lsp_game_summary_to_json (local);
  g_autoptr(LspGameSummary) parsed = NULL;
  g_autoptr(LspGameSummary) local_parsed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = json_to_string (node, FALSE);
  JsonObject *object = json_node_get_object (node);

  g_test_message ("%s", json);
  g_assert_cmpstr (json_object_get_string_member (object, "id"), ==, "quake3");
  g_assert_cmpstr (json_object_get_string_member (object, "availability"), ==, "ready");
  g_assert_cmpint (json_object_get_int_member (object, "size"), ==, G_GINT64_CONSTANT (53687091200));
  g_assert_true (json_object_get_boolean_member (object, "downloaded"));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (json_node_get_object (local_node), "version")));

  parsed = lsp_game_summary_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_true (lsp_game_summary_equal (parsed, ready));
  local_parsed = lsp_game_summary_new_from_json (local_node, &error);
  g_assert_no_error (error);
  g_assert_true (lsp_game_summary_equal (local_parsed, local));
  g_assert_cmpint (local_parsed->availability, ==, LSP_AVAILABILITY_LOCAL_ONLY);
  g_assert_null (local_parsed->version);
  g_assert_false (lsp_game_summary_equal (parsed, local_parsed));
}

static void
test_game_summary_from_library (void)
{
  static const char * const ids[] = { "ready-game", "half-game", "played-game", NULL };
  g_autofree char *games_dir = lsp_test_make_temp_dir ();
  g_autoptr(GFile) dir = g_file_new_for_path (games_dir);
  g_autoptr(LspCatalog) catalog = lsp_test_catalog_new (ids);
  g_autoptr(LspLibrary) library = NULL;
  g_autoptr(LspGameSummary) ready = NULL;
  g_autoptr(LspGameSummary) half = NULL;
  g_autoptr(LspGameSummary) busy = NULL;
  g_autoptr(GError) error = NULL;
  LspLocalGame *game;

  lsp_test_make_game (games_dir, "ready-game", "2.0", 5000);
  lsp_test_make_game (games_dir, "half-game", NULL, 100);
  lsp_test_make_game (games_dir, "played-game", "7", 300);
  {
    g_autofree char *save = g_build_filename (games_dir, "played-game", "local", "save.dat", NULL);
    lsp_test_write_file (save, "user data", -1);
  }
  library = lsp_library_new (dir, catalog);
  lsp_test_load_library (library);

  game = lsp_library_lookup (library, "ready-game");
  g_assert_nonnull (game);
  ready = lsp_game_summary_new_from_local_game (game);
  g_assert_cmpstr (ready->id, ==, "ready-game");
  g_assert_cmpstr (ready->name, ==, "Game ready-game");
  g_assert_cmpstr (ready->version, ==, "2.0");
  g_assert_true (ready->downloaded);
  g_assert_false (ready->installed);
  g_assert_cmpstr (ready->manifest_hash, ==, lsp_local_game_get_manifest_hash (game));
  g_assert_true (lsp_proto_hex_digest_is_valid (ready->manifest_hash));
  g_assert_cmpuint (ready->size, ==, lsp_local_game_get_size (game));
  g_assert_cmpint (ready->availability, ==, LSP_AVAILABILITY_READY);

  half = lsp_game_summary_new_from_local_game (lsp_library_lookup (library, "half-game"));
  g_assert_false (half->downloaded);
  g_assert_null (half->version);
  g_assert_null (half->manifest_hash);
  g_assert_cmpint (half->availability, ==, LSP_AVAILABILITY_LOCAL_ONLY);

  /* Installed and downloaded: both flags, still served (local/ never is). */
  {
    g_autoptr(LspGameSummary) played = lsp_game_summary_new_from_local_game (lsp_library_lookup (library, "played-game"));

    g_assert_true (played->downloaded);
    g_assert_true (played->installed);
    g_assert_cmpstr (played->version, ==, "7");
    g_assert_cmpint (played->availability, ==, LSP_AVAILABILITY_READY);
  }

  /* An operation does not change the summary: the library revision and
   * digest do not cover it, and chunk requests meanwhile get "busy". */
  g_assert_true (lsp_library_begin_operation (library, "ready-game", &error));
  g_assert_no_error (error);
  busy = lsp_game_summary_new_from_local_game (game);
  g_assert_true (busy->downloaded);
  g_assert_cmpint (busy->availability, ==, LSP_AVAILABILITY_READY);
  g_assert_true (lsp_game_summary_equal (busy, ready));
  lsp_library_end_operation (library, "ready-game");

  /* What we build for ourselves always passes our own parser. */
  {
    g_autoptr(JsonNode) node = lsp_game_summary_to_json (ready);
    g_autoptr(LspGameSummary) back = lsp_game_summary_new_from_json (node, &error);

    g_assert_no_error (error);
    g_assert_true (lsp_game_summary_equal (back, ready));
  }

  g_clear_object (&library);
  lsp_test_remove_tree (games_dir);
}

static void
put_u32 (GByteArray *bytes,
         guint32     value)
{
  guint8 be[4] = { value >> 24, value >> 16, value >> 8, value };
  g_byte_array_append (bytes, be, 4);
}

static void
put_string (GByteArray *bytes,
            const char *value)
{
  put_u32 (bytes, (guint32) strlen (value));
  g_byte_array_append (bytes, (const guint8 *) value, (guint) strlen (value));
}

/* PROTOCOL.md's canonical encoding, written out from the document, so the
 * document and the code cannot drift apart. */
static char *
documented_manifest_hash (LspManifest *manifest)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  guint8 digest[LSP_SHA256_LEN];
  char hex[LSP_SHA256_HEX_LEN + 1];

  g_byte_array_append (bytes, (const guint8 *) "lanspread-manifest", 19);
  put_u32 (bytes, 1);
  put_u32 (bytes, LSP_MANIFEST_CHUNK_SIZE);
  put_string (bytes, lsp_manifest_get_game_id (manifest));
  put_string (bytes, lsp_manifest_get_version (manifest));
  put_u32 (bytes, lsp_manifest_get_n_files (manifest));
  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);
      guint64 be = GUINT64_TO_BE (file->size);

      put_string (bytes, file->path);
      g_byte_array_append (bytes, (const guint8 *) &be, 8);
      g_byte_array_append (bytes, file->chunk_hashes, file->n_chunks * LSP_SHA256_LEN);
    }
  lsp_sha256_buffer (bytes->data, bytes->len, digest);
  lsp_sha256_to_hex (digest, hex);
  return g_strdup (hex);
}

static void
test_manifest_message (void)
{
  g_autofree char *root = lsp_test_make_temp_dir ();
  g_autofree char *pak = g_build_filename (root, "baseq3", "pak0.eti", NULL);
  g_autofree char *readme = g_build_filename (root, "readme.txt", NULL);
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(LspMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  LspMessage *parsed;
  int fd;

  lsp_test_write_random_file (pak, LSP_MANIFEST_CHUNK_SIZE + 1000, 42);
  lsp_test_write_file (readme, "hello", -1);
  fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  manifest = lsp_manifest_build (fd, "quake3", "1.32c", NULL, &error);
  close (fd);
  g_assert_no_error (error);

  {
    g_autofree char *documented = documented_manifest_hash (manifest);
    const LspManifestFile *pak_file = lsp_manifest_lookup_file (manifest, "baseq3/pak0.eti");
    guint8 digest[LSP_SHA256_LEN];
    g_autofree guint8 *data = NULL;
    gsize length;

    g_assert_cmpstr (documented, ==, lsp_manifest_get_hash (manifest));
    /* Files in byte order: "baseq3/…" before "readme.txt". */
    g_assert_cmpstr (lsp_manifest_get_file (manifest, 0)->path, ==, "baseq3/pak0.eti");
    /* The second chunk covers the bytes after the first 4 MiB. */
    g_assert_true (g_file_get_contents (pak, (char **) &data, &length, NULL));
    lsp_sha256_buffer (data + LSP_MANIFEST_CHUNK_SIZE, length - LSP_MANIFEST_CHUNK_SIZE, digest);
    g_assert_cmpmem (pak_file->chunk_hashes + LSP_SHA256_LEN, LSP_SHA256_LEN, digest, LSP_SHA256_LEN);
  }

  message = lsp_message_new_manifest (manifest);
  parsed = roundtrip (message);
  g_assert_cmpstr (parsed->manifest.game_id, ==, "quake3");
  g_assert_cmpstr (parsed->manifest.manifest_hash, ==, lsp_manifest_get_hash (manifest));
  g_assert_cmpstr (lsp_manifest_get_hash (parsed->manifest.manifest), ==, lsp_manifest_get_hash (manifest));
  g_assert_cmpuint (lsp_manifest_get_n_files (parsed->manifest.manifest), ==, 2);
  g_assert_cmpuint (lsp_manifest_lookup_file (parsed->manifest.manifest, "baseq3/pak0.eti")->n_chunks, ==, 2);
  lsp_message_unref (parsed);

  /* A manifest is accepted only under its own name and game. */
  node = lsp_message_to_json (message);
  {
    JsonObject *object = json_node_get_object (node);
    g_autofree char *json = NULL;

    json_object_set_string_member (object, "manifest_hash", HASH);
    json = json_to_string (node, FALSE);
    parsed = lsp_message_parse ((const guint8 *) json, strlen (json), &error);
    g_assert_null (parsed);
    g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "Manifest: field “manifest”"));
    g_assert_nonnull (strstr (error->message, "not to manifest_hash"));
    g_clear_error (&error);

    json_object_set_string_member (object, "manifest_hash", lsp_manifest_get_hash (manifest));
    json_object_set_string_member (object, "game_id", "doom");
    g_clear_pointer (&json, g_free);
    json = json_to_string (node, FALSE);
    parsed = lsp_message_parse ((const guint8 *) json, strlen (json), &error);
    g_assert_null (parsed);
    g_assert_nonnull (strstr (error->message, "is for game “quake3”, not “doom”"));
    g_clear_error (&error);
  }

  lsp_test_remove_tree (root);
}

static void
test_frame_byte_slices (void)
{
  g_autoptr(LspFrameDecoder) decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_message_unref);
  g_autoptr(GPtrArray) games = make_summaries (40, "g");
  guint n_frames = 0;

  g_ptr_array_add (messages, lsp_message_new_hello (LSP_MESSAGE_HELLO, PEER_A, "10.0.0.2:5000", 3, DIGEST, NULL, "a"));
  g_ptr_array_add (messages, lsp_message_new_library_snapshot (PEER_A, 3, DIGEST, games));
  g_ptr_array_add (messages, lsp_message_new_ping (LSP_MESSAGE_PING, 1));
  g_ptr_array_add (messages, lsp_message_new_error (LSP_PROTO_ERROR_BUSY, FALSE, "later"));
  for (guint i = 0; i < messages->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) frame = lsp_message_encode (g_ptr_array_index (messages, i), LSP_PROTO_MAX_FRAME, &error);

      g_assert_no_error (error);
      g_byte_array_append (stream, g_bytes_get_data (frame, NULL), (guint) g_bytes_get_size (frame));
    }

  for (guint i = 0; i < stream->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) payload = NULL;

      g_assert_cmpuint (lsp_frame_decoder_feed (decoder, stream->data + i, 1, &error), ==, 1);
      g_assert_no_error (error);
      payload = lsp_frame_decoder_pop (decoder);
      if (payload != NULL)
        {
          g_autoptr(LspMessage) parsed = lsp_message_parse (g_bytes_get_data (payload, NULL),
                                                            g_bytes_get_size (payload), &error);
          LspMessage *expected = g_ptr_array_index (messages, n_frames);

          g_assert_no_error (error);
          g_assert_cmpint (parsed->type, ==, expected->type);
          n_frames++;
          g_assert_true (lsp_frame_decoder_is_idle (decoder));
        }
      else
        {
          g_assert_false (lsp_frame_decoder_is_idle (decoder));
        }
    }
  g_assert_cmpuint (n_frames, ==, messages->len);
  g_assert_cmpuint (lsp_frame_decoder_get_buffered (decoder), ==, 0);
}

/* On a data stream, raw bytes follow the answer frame: the decoder must stop
 * right after it and leave them to the caller. */
static void
test_frame_stops_after_frame (void)
{
  g_autoptr(LspFrameDecoder) decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_REQUEST_FRAME);
  g_autoptr(LspMessage) chunk = lsp_message_new_chunk (0, 5);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = lsp_message_encode (chunk, LSP_PROTO_MAX_REQUEST_FRAME, &error);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(LspMessage) parsed = NULL;
  gsize consumed;

  g_assert_no_error (error);
  g_byte_array_append (stream, g_bytes_get_data (frame, NULL), (guint) g_bytes_get_size (frame));
  g_byte_array_append (stream, (const guint8 *) "RAW!!", 5);

  consumed = lsp_frame_decoder_feed (decoder, stream->data, stream->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, g_bytes_get_size (frame));
  g_assert_cmpmem (stream->data + consumed, stream->len - consumed, "RAW!!", 5);

  /* Until the frame is taken, nothing more is consumed. */
  g_assert_cmpuint (lsp_frame_decoder_feed (decoder, stream->data + consumed, 5, &error), ==, 0);
  g_assert_no_error (error);
  payload = lsp_frame_decoder_pop (decoder);
  parsed = lsp_message_parse (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload), &error);
  g_assert_no_error (error);
  g_assert_cmpint (parsed->type, ==, LSP_MESSAGE_CHUNK);
  g_assert_cmpuint (parsed->chunk.length, ==, 5);
}

static void
test_frame_limits (void)
{
  static const guint8 huge[] = { 0xff, 0xff, 0xff, 0xff, '{', '}' };
  static const guint8 one_over[] = { 0x01, 0x00, 0x00, 0x01 };
  static const guint8 at_limit_request[] = { 0x00, 0x01, 0x00, 0x00 };
  static const guint8 tiny[] = { 0x00, 0x00, 0x00, 0x01, '{' };
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(LspFrameDecoder) decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);

    /* Three header bytes are not enough to judge. */
    g_assert_cmpuint (lsp_frame_decoder_feed (decoder, huge, 3, &error), ==, 3);
    g_assert_no_error (error);
    lsp_frame_decoder_feed (decoder, huge + 3, sizeof huge - 3, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_assert_nonnull (strstr (error->message, "4294967295 bytes"));
    g_assert_true (lsp_frame_decoder_has_failed (decoder));
    /* Nothing was allocated for the payload. */
    g_assert_cmpuint (lsp_frame_decoder_get_buffered (decoder), ==, 4);
    g_clear_error (&error);

    /* A failed stream stays failed. */
    g_assert_cmpuint (lsp_frame_decoder_feed (decoder, (const guint8 *) "{}", 2, &error), ==, 0);
    g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
    g_clear_error (&error);
  }
  {
    g_autoptr(LspFrameDecoder) decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);

    lsp_frame_decoder_feed (decoder, one_over, sizeof one_over, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_clear_error (&error);
  }
  {
    g_autoptr(LspFrameDecoder) decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_REQUEST_FRAME);

    /* Exactly at the limit is fine: it waits for the payload. */
    g_assert_cmpuint (lsp_frame_decoder_feed (decoder, at_limit_request, 4, &error), ==, 4);
    g_assert_no_error (error);
    g_assert_cmpuint (lsp_frame_decoder_get_buffered (decoder), ==, 4);
    g_assert_null (lsp_frame_decoder_pop (decoder));
  }
  {
    g_autoptr(LspFrameDecoder) decoder = lsp_frame_decoder_new (LSP_PROTO_MAX_FRAME);

    lsp_frame_decoder_feed (decoder, tiny, sizeof tiny, &error);
    g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "too short"));
    g_clear_error (&error);
  }
}

static void
test_bad_frames (void)
{
  static const struct {
    const char *payload;
    gsize       length;
    const char *fragment;
  } cases[] = {
    { "not json", 8, "not valid JSON" },
    { "{\"type\": \"Ping\", \"nonce\": 1", 27, "not valid JSON" },
    { "{\"type\": \"Ping\", \"nonce\": 1} {}", 31, "not valid JSON" },
    { "[1, 2]", 6, "not a JSON object" },
    { "\"Ping\"", 6, "not a JSON object" },
    { "{\"nonce\": 1}", 12, "no string member “type”" },
    { "{\"type\": 5}", 11, "no string member “type”" },
    { "{\"type\": \"Ping\"\0}", 17, "NUL byte" },
    { "{\"type\": \"\xff\xfe\"}", 14, "not valid UTF-8" },
    { "{}", 1, "too short" },
    { "{\"type\": \"Hello\", \"peer_id\": \"ab\\u0000cd\"}", 42, "escaped NUL" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LspMessage) message = lsp_message_parse ((const guint8 *) cases[i].payload, cases[i].length, &error);

      g_test_message ("case %u", i);
      g_assert_null (message);
      g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
      if (strstr (error->message, cases[i].fragment) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].fragment);
    }

  /* Deep nesting is refused before the recursive parser sees it, even
   * inside a frame far below the size limit. */
  {
    g_autoptr(GString) deep = g_string_new ("{\"type\": \"LibrarySnapshot\", \"x\": ");
    g_autoptr(GError) error = NULL;
    g_autoptr(LspMessage) message = NULL;

    for (guint i = 0; i < 100000; i++)
      g_string_append_c (deep, '[');
    message = lsp_message_parse ((const guint8 *) deep->str, deep->len, &error);
    g_assert_null (message);
    g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "deeper than 32"));
  }
  /* Brackets inside strings are text, not nesting. */
  {
    g_autoptr(GString) text = g_string_new ("{\"type\": \"Ping\", \"nonce\": 3, \"x\": \"");
    g_autoptr(GError) error = NULL;
    g_autoptr(LspMessage) message = NULL;

    for (guint i = 0; i < 100; i++)
      g_string_append (text, "[{\\\"");
    g_string_append (text, "\"}");
    message = lsp_message_parse ((const guint8 *) text->str, text->len, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (message->ping.nonce, ==, 3);
  }
}

#define HELLO_FIELDS \
  "\"peer_id\": \"" PEER_A "\", \"listen_addr\": \"10.1.2.3:41000\", \"library_rev\": 4, " \
  "\"library_digest\": \"" DIGEST "\", \"features\": [], \"hostname\": \"host\""
#define SUMMARY_OK \
  "\"id\": \"g1\", \"name\": \"G\", \"version\": \"1\", \"size\": 10, \"downloaded\": true, " \
  "\"installed\": false, \"manifest_hash\": \"" HASH "\", \"availability\": \"ready\""
#define DELTA_HEAD \
  "{\"type\": \"LibraryDelta\", \"peer_id\": \"" PEER_A "\", \"library_digest\": \"" DIGEST "\", \"game_count\": 1, "
#define CHUNK_HEAD \
  "{\"type\": \"GetChunk\", \"game_id\": \"q3\", \"manifest_hash\": \"" HASH "\", "

static void
test_invalid_messages (void)
{
  static const struct {
    const char *json;
    const char *fragment;
  } cases[] = {
    /* Hello */
    { "{\"type\": \"Hello\", \"proto_ver\": 1, \"listen_addr\": \"10.1.2.3:41000\", \"library_rev\": 4, "
      "\"library_digest\": \"" DIGEST "\", \"features\": [], \"hostname\": \"h\"}",
      "Hello: field “peer_id” is missing" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"peer_id\": 12}", "Hello: field “peer_id” must be a string" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"peer_id\": \"ABC\"}", "field “peer_id” is not a peer id" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"peer_id\": \""
      "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\"}", "field “peer_id” is not a peer id" },
    { "{\"type\": \"Hello\", " HELLO_FIELDS "}", "Hello: field “proto_ver” is missing" },
    { "{\"type\": \"Hello\", \"proto_ver\": \"1\", " HELLO_FIELDS "}", "field “proto_ver” must be an integer" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1.0, " HELLO_FIELDS "}", "field “proto_ver” must be an integer" },
    { "{\"type\": \"Hello\", \"proto_ver\": 0, " HELLO_FIELDS "}", "field “proto_ver” is 0, out of range 1–65535" },
    { "{\"type\": \"HelloAck\", \"proto_ver\": 2, \"min_proto_ver\": 3, " HELLO_FIELDS "}",
      "HelloAck: field “min_proto_ver” is above “proto_ver”" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"library_rev\": -1}",
      "field “library_rev” is -1, out of range" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"library_rev\": 9007199254740992}",
      "field “library_rev” is 9007199254740992, out of range" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"listen_addr\": \"example.com:41000\"}",
      "field “listen_addr” is not an IP address and port" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"listen_addr\": \"10.0.0.1:0\"}",
      "field “listen_addr” is not" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"listen_addr\": \"10.0.0.1:65536\"}",
      "field “listen_addr” is not" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"listen_addr\": \"::1:41000\"}",
      "field “listen_addr” is not" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"library_digest\": \"abc\"}",
      "field “library_digest” is not a SHA-256" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"features\": \"zstd\"}",
      "field “features” must be an array" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"features\": [\"ok\", 3]}",
      "field “features[1]” must be a string" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"features\": [\"Not Ok\"]}",
      "field “features[0]” is not 1–32 characters" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"hostname\": \"\"}",
      "field “hostname” is not 1–63 bytes" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"hostname\": \"evil\\nline\"}",
      "field “hostname” is not 1–63 bytes" },
    { "{\"type\": \"Hello\", \"proto_ver\": 1, " HELLO_FIELDS ", \"hostname\": "
      "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
      "field “hostname” is not 1–63 bytes" },
    /* GetLibrary, LibrarySummary */
    { "{\"type\": \"GetLibrary\", \"since_rev\": -5}", "GetLibrary: field “since_rev” is -5, out of range" },
    { "{\"type\": \"GetLibrary\", \"since_rev\": true}", "GetLibrary: field “since_rev” must be an integer" },
    { "{\"type\": \"LibrarySummary\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"game_count\": 10001}", "LibrarySummary: field “game_count” is 10001, out of range 0–10000" },
    /* LibrarySnapshot and GameSummary */
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\"}",
      "LibrarySnapshot: field “games” is missing" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [5]}", "LibrarySnapshot: entry games[0] must be an object" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK "}, {" SUMMARY_OK ", \"id\": \"../../etc\"}]}",
      "LibrarySnapshot: field “games[1].id” is not a valid game id" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK "}, {" SUMMARY_OK "}]}",
      "field “games[1].id” “g1” appears more than once" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK ", \"size\": -1}]}", "field “games[0].size” is -1, out of range" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK ", \"downloaded\": 1}]}", "field “games[0].downloaded” must be true or false" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK ", \"availability\": \"maybe\"}]}",
      "field “games[0].availability” must be “ready”, “downloading” or “local_only”" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK ", \"version\": null}]}",
      "field “games[0].version” must be set exactly when “downloaded” is true" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK ", \"manifest_hash\": null}]}",
      "field “games[0].availability” is “ready” without" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK ", \"name\": \"\"}]}", "field “games[0].name” is not 1–256 bytes" },
    { "{\"type\": \"LibrarySnapshot\", \"peer_id\": \"" PEER_A "\", \"library_rev\": 1, \"library_digest\": \"" DIGEST "\", "
      "\"games\": [{" SUMMARY_OK ", \"manifest_hash\": \"" DIGEST "x\"}]}", "field “games[0].manifest_hash” is not a SHA-256" },
    /* LibraryDelta */
    { DELTA_HEAD "\"from_rev\": 5, \"to_rev\": 4, \"added\": [], \"updated\": [], \"removed\": []}",
      "LibraryDelta: field “to_rev” must not be below “from_rev”" },
    { DELTA_HEAD "\"from_rev\": -2, \"to_rev\": 4, \"added\": [], \"updated\": [], \"removed\": []}",
      "LibraryDelta: field “from_rev” is -2, out of range" },
    { DELTA_HEAD "\"from_rev\": 1, \"to_rev\": 4, \"added\": [], \"updated\": []}",
      "LibraryDelta: field “removed” is missing" },
    { DELTA_HEAD "\"from_rev\": 1, \"to_rev\": 4, \"added\": [], \"updated\": [], \"removed\": [\"local/x\"]}",
      "LibraryDelta: field “removed[0]” is not a valid game id" },
    { DELTA_HEAD "\"from_rev\": 1, \"to_rev\": 4, \"added\": [{" SUMMARY_OK "}], \"updated\": [], \"removed\": [\"g1\"]}",
      "LibraryDelta: field “removed[0]” “g1” appears more than once" },
    { DELTA_HEAD "\"from_rev\": 1, \"to_rev\": 4, \"added\": [{" SUMMARY_OK "}], \"updated\": [{" SUMMARY_OK "}], \"removed\": []}",
      "LibraryDelta: field “updated[0].id” “g1” appears more than once" },
    /* Manifest requests */
    { "{\"type\": \"GetManifest\", \"game_id\": \"q3\", \"manifest_hash\": 1}",
      "GetManifest: field “manifest_hash” must be a string" },
    { "{\"type\": \"Manifest\", \"game_id\": \"q3\", \"manifest_hash\": \"" HASH "\", \"manifest\": []}",
      "Manifest: field “manifest” must be an object" },
    { "{\"type\": \"Manifest\", \"game_id\": \"q3\", \"manifest_hash\": \"" HASH "\", \"manifest\": {\"format\": 1, "
      "\"game_id\": \"q3\", \"version\": \"1\", \"chunk_size\": 4194304, \"files\": [{\"path\": \"local/x\", \"size\": 0, "
      "\"chunks\": []}]}}", "Manifest: field “manifest” is not a valid manifest" },
    /* Ping, Goodbye, Error */
    { "{\"type\": \"Ping\"}", "Ping: field “nonce” is missing" },
    { "{\"type\": \"Pong\", \"nonce\": 1.5}", "Pong: field “nonce” must be an integer" },
    { "{\"type\": \"Goodbye\", \"peer_id\": \"" PEER_A "\", \"reason\": \"\\u001b[31m\"}",
      "Goodbye: field “reason” is not 1–256 bytes" },
    { "{\"type\": \"Error\", \"code\": \"Bad Code\", \"message\": \"x\"}", "Error: field “code” is not 1–32 characters" },
    { "{\"type\": \"Error\", \"code\": \"busy\"}", "Error: field “message” is missing" },
    { "{\"type\": \"Error\", \"code\": \"busy\", \"message\": \"x\", \"fatal\": \"yes\"}",
      "Error: field “fatal” must be true or false" },
    /* Auth */
    { "{\"type\": \"Auth\"}", "Auth: field “proof” is missing" },
    { "{\"type\": \"Auth\", \"proof\": \"" DIGEST "0\"}", "Auth: field “proof” is not 64 lowercase hex" },
    { "{\"type\": \"Auth\", \"proof\": 7}", "Auth: field “proof” must be a string" },
    /* GetChunk and Chunk: every path rule */
    { CHUNK_HEAD "\"path\": \"../../etc/passwd\", \"offset\": 0, \"length\": 1}", "GetChunk: field “path” is not a safe relative path" },
    { CHUNK_HEAD "\"path\": \"/etc/passwd\", \"offset\": 0, \"length\": 1}", "field “path” is not a safe relative path" },
    { CHUNK_HEAD "\"path\": \"local/save.dat\", \"offset\": 0, \"length\": 1}", "field “path” is not a safe relative path" },
    { CHUNK_HEAD "\"path\": \"Local/save.dat\", \"offset\": 0, \"length\": 1}", "field “path” is not a safe relative path" },
    { CHUNK_HEAD "\"path\": \"VERSION.ini\", \"offset\": 0, \"length\": 1}", "field “path” is not a safe relative path" },
    { CHUNK_HEAD "\"path\": \"version.ini\", \"offset\": 0, \"length\": 1}", "field “path” is not a safe relative path" },
    { CHUNK_HEAD "\"path\": \"a\\\\..\\\\b\", \"offset\": 0, \"length\": 1}", "field “path” is not a safe relative path" },
    { CHUNK_HEAD "\"path\": \"a//b\", \"offset\": 0, \"length\": 1}", "field “path” is not a safe relative path" },
    { CHUNK_HEAD "\"path\": \"a.eti\", \"offset\": 0, \"length\": 0}", "GetChunk: field “length” is 0, out of range 1–4194304" },
    { CHUNK_HEAD "\"path\": \"a.eti\", \"offset\": 0, \"length\": 4194305}", "field “length” is 4194305, out of range" },
    { CHUNK_HEAD "\"path\": \"a.eti\", \"offset\": -1, \"length\": 1}", "field “offset” is -1, out of range" },
    { CHUNK_HEAD "\"offset\": 0, \"length\": 1}", "GetChunk: field “path” is missing" },
    { "{\"type\": \"GetChunk\", \"game_id\": \".hidden\", \"manifest_hash\": \"" HASH "\", \"path\": \"a\", "
      "\"offset\": 0, \"length\": 1}", "GetChunk: field “game_id” is not a valid game id" },
    { "{\"type\": \"Chunk\", \"offset\": 0}", "Chunk: field “length” is missing" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LspMessage) message = lsp_message_parse ((const guint8 *) cases[i].json, strlen (cases[i].json), &error);

      g_test_message ("case %u: %s", i, cases[i].json);
      g_assert_null (message);
      g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
      if (strstr (error->message, cases[i].fragment) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].fragment);
    }
}

static void
test_delta_size_limit (void)
{
  g_autoptr(GPtrArray) added = make_summaries (LSP_PROTO_MAX_GAMES, "a");
  g_autoptr(GPtrArray) too_many = make_summaries (LSP_PROTO_MAX_GAMES + 1, "s");
  static const char * const removed[] = { "gone", NULL };
  g_autoptr(LspMessage) delta = lsp_message_new_library_delta (PEER_A, 1, 2, DIGEST, 1, added, NULL, removed);
  g_autoptr(LspMessage) snapshot = lsp_message_new_library_snapshot (PEER_A, 1, DIGEST, too_many);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) delta_node = lsp_message_to_json (delta);
  g_autoptr(JsonNode) snapshot_node = lsp_message_to_json (snapshot);
  g_autoptr(LspMessage) parsed = NULL;

  parsed = lsp_message_new_from_json (delta_node, &error);
  g_assert_null (parsed);
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "LibraryDelta: field “removed” has 1 entries, more than 0"));
  g_clear_error (&error);

  parsed = lsp_message_new_from_json (snapshot_node, &error);
  g_assert_null (parsed);
  g_assert_nonnull (strstr (error->message, "LibrarySnapshot: field “games” has 10001 entries, more than 10000"));
  g_clear_error (&error);

  /* Whatever the other side would reject, we do not send. */
  {
    g_autoptr(GBytes) frame = lsp_message_encode (snapshot, LSP_PROTO_MAX_FRAME, &error);

    g_assert_null (frame);
    g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "Refusing to send an invalid message: LibrarySnapshot: field “games”"));
  }
}

static void
test_unknown_and_extra (void)
{
  static const char unknown[] = "{\"type\": \"TradeCards\", \"cards\": [1, 2, 3]}";
  static const char extra[] = "{\"type\": \"Pong\", \"nonce\": 9, \"latency_hint\": {\"ms\": 1}, \"future\": null}";
  static const char no_min[] = "{\"type\": \"Hello\", \"proto_ver\": 3, " HELLO_FIELDS "}";
  g_autoptr(GError) error = NULL;
  g_autoptr(LspMessage) message = lsp_message_parse ((const guint8 *) unknown, strlen (unknown), &error);
  g_autoptr(LspMessage) pong = NULL;
  g_autoptr(LspMessage) hello = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (message->type, ==, LSP_MESSAGE_UNKNOWN);
  g_assert_cmpstr (message->type_name, ==, "TradeCards");

  pong = lsp_message_parse ((const guint8 *) extra, strlen (extra), &error);
  g_assert_no_error (error);
  g_assert_cmpint (pong->type, ==, LSP_MESSAGE_PONG);
  g_assert_cmpuint (pong->ping.nonce, ==, 9);

  /* A future peer without min_proto_ver speaks only its own version. */
  hello = lsp_message_parse ((const guint8 *) no_min, strlen (no_min), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (hello->hello.proto_ver, ==, 3);
  g_assert_cmpuint (hello->hello.min_proto_ver, ==, 3);
}

static void
test_negotiate_version (void)
{
  guint version = 0;

  g_assert_true (lsp_proto_negotiate_version (1, 1, 1, 1, &version));
  g_assert_cmpuint (version, ==, 1);
  g_assert_true (lsp_proto_negotiate_version (1, 3, 2, 5, &version));
  g_assert_cmpuint (version, ==, 3);
  g_assert_true (lsp_proto_negotiate_version (2, 5, 1, 3, &version));
  g_assert_cmpuint (version, ==, 3);
  g_assert_false (lsp_proto_negotiate_version (1, 1, 2, 2, &version));
  g_assert_false (lsp_proto_negotiate_version (4, 6, 1, 3, &version));
}

static void
test_listen_addr (void)
{
  static const char * const good[] = { "192.0.2.7:41000", "0.0.0.0:1", "[::1]:65535", "[::]:41000", NULL };
  static const char * const bad[] = {
    "192.0.2.7", "192.0.2.7:", "192.0.2.7:0", "192.0.2.7:65536", "192.0.2.7:041000", "192.0.2.7:+1",
    "host.local:41000", "::1:41000", "[::1]41000", "[192.0.2.7]:41000", "[::1]:", ":41000", "", NULL
  };
  g_autofree char *host = NULL;
  guint16 port = 0;

  for (guint i = 0; good[i] != NULL; i++)
    g_assert_true (lsp_proto_parse_listen_addr (good[i], NULL, NULL));
  for (guint i = 0; bad[i] != NULL; i++)
    {
      if (lsp_proto_parse_listen_addr (bad[i], NULL, NULL))
        g_error ("“%s” was accepted as a listen address", bad[i]);
    }

  g_assert_true (lsp_proto_parse_listen_addr ("[fe80::2]:4000", &host, &port));
  g_assert_cmpstr (host, ==, "fe80::2");
  g_assert_cmpuint (port, ==, 4000);
}

/* Mutated frames from a fixed seed: every one must parse or fail with
 * LSP_ERROR_INVALID_DATA, and never crash (ASan watches the rest). */
static void
test_mutations (void)
{
  static const char * const removed[] = { "gone", NULL };
  static const char syntax[] = "{}[]\":,0-9e\\ntfu";
  g_autoptr(GPtrArray) games = make_summaries (20, "m");
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_message_unref);
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261125);
  guint n_parsed = 0, n_rejected = 0;

  g_ptr_array_add (messages, lsp_message_new_hello (LSP_MESSAGE_HELLO, PEER_A, "[::1]:41000", 3, DIGEST, NULL, "h"));
  g_ptr_array_add (messages, lsp_message_new_library_snapshot (PEER_A, 3, DIGEST, games));
  g_ptr_array_add (messages, lsp_message_new_library_delta (PEER_A, 3, 4, DIGEST, 20, games, NULL, removed));
  g_ptr_array_add (messages, lsp_message_new_get_chunk ("m00001", HASH, "a/b.eti", 4096, 100));

  for (guint round = 0; round < 4000; round++)
    {
      LspMessage *message = g_ptr_array_index (messages, round % messages->len);
      g_autoptr(JsonNode) node = lsp_message_to_json (message);
      g_autofree char *json = json_to_string (node, FALSE);
      gsize length = strlen (json);
      guint n_edits = (guint) g_rand_int_range (rand, 1, 6);
      g_autoptr(LspMessage) parsed = NULL;
      g_autoptr(GError) error = NULL;

      for (guint e = 0; e < n_edits; e++)
        {
          gsize at = (gsize) g_rand_int_range (rand, 0, (gint32) length);

          switch (g_rand_int_range (rand, 0, 3))
            {
            case 0:
              json[at] = (char) g_rand_int_range (rand, 0, 256);
              break;
            case 1:
              json[at] = syntax[g_rand_int_range (rand, 0, (gint32) sizeof syntax - 1)];
              break;
            default:
              length = at + 1;
              break;
            }
        }

      parsed = lsp_message_parse ((const guint8 *) json, length, &error);
      if (parsed != NULL)
        {
          g_assert_no_error (error);
          n_parsed++;
        }
      else
        {
          g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
          g_assert_true (g_utf8_validate (error->message, -1, NULL) || strstr (error->message, "JSON") != NULL);
          n_rejected++;
        }
    }

  g_test_message ("%u mutated frames parsed, %u rejected", n_parsed, n_rejected);
  g_assert_cmpuint (n_rejected, >, 0);
}

#define OTHER_DIGEST "0000000000000000000000000000000000000000000000000000000000000001"

static void
test_sync_summary (void)
{
  const LspSyncState never = { FALSE, 0, NULL };
  const LspSyncState synced = { TRUE, 10, DIGEST };

  /* Equal digests: nothing to say, whatever the revision. */
  g_assert_cmpint (lsp_sync_plan_summary (&synced, 10, DIGEST), ==, LSP_SYNC_NOTHING);
  g_assert_cmpint (lsp_sync_plan_summary (&synced, 12, DIGEST), ==, LSP_SYNC_NOTHING);
  /* A known revision: ask for what changed since. */
  g_assert_cmpint (lsp_sync_plan_summary (&synced, 11, OTHER_DIGEST), ==, LSP_SYNC_ASK_DELTA);
  g_assert_cmpint (lsp_sync_plan_summary (&synced, 500, OTHER_DIGEST), ==, LSP_SYNC_ASK_DELTA);
  /* Never synced: the whole library. */
  g_assert_cmpint (lsp_sync_plan_summary (&never, 0, DIGEST), ==, LSP_SYNC_ASK_SNAPSHOT);
  /* A mismatch at the same revision, or a revision that went back. */
  g_assert_cmpint (lsp_sync_plan_summary (&synced, 10, OTHER_DIGEST), ==, LSP_SYNC_ASK_SNAPSHOT);
  g_assert_cmpint (lsp_sync_plan_summary (&synced, 3, OTHER_DIGEST), ==, LSP_SYNC_ASK_SNAPSHOT);
}

static void
test_sync_delta (void)
{
  const LspSyncState never = { FALSE, 0, NULL };
  const LspSyncState at_10 = { TRUE, 10, DIGEST };
  static const struct {
    guint64       from_rev, to_rev;
    LspSyncAction expected;
  } cases[] = {
    { 10, 11, LSP_SYNC_APPLY },        /* the next one */
    { 8, 12, LSP_SYNC_APPLY },         /* overlaps what we have: idempotent */
    { 10, 10, LSP_SYNC_NOTHING },      /* empty */
    { 9, 10, LSP_SYNC_NOTHING },       /* a duplicate */
    { 2, 5, LSP_SYNC_NOTHING },        /* old, arrived late */
    { 11, 12, LSP_SYNC_ASK_SNAPSHOT }, /* a gap: 10 → 11 is missing */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(LspMessage) delta = lsp_message_new_library_delta (PEER_A, cases[i].from_rev, cases[i].to_rev,
                                                                   DIGEST, 0, NULL, NULL, NULL);
      LspSyncAction action = lsp_sync_plan_delta (&at_10, &delta->delta);

      if (action != cases[i].expected)
        g_error ("delta %" G_GUINT64_FORMAT "→%" G_GUINT64_FORMAT " at rev 10: %s, expected %s",
                 cases[i].from_rev, cases[i].to_rev, lsp_sync_action_to_string (action),
                 lsp_sync_action_to_string (cases[i].expected));
      g_assert_cmpint (lsp_sync_plan_delta (&never, &delta->delta), ==, LSP_SYNC_ASK_SNAPSHOT);
    }

  {
    g_autoptr(LspMessage) delta = lsp_message_new_library_delta (PEER_A, 10, 11, DIGEST, 7, NULL, NULL, NULL);

    g_assert_true (lsp_sync_delta_count_ok (&delta->delta, 7));
    g_assert_false (lsp_sync_delta_count_ok (&delta->delta, 6));
  }
}

static void
test_sanitize_hostname (void)
{
  static const struct {
    const char *in;
    const char *out;
  } cases[] = {
    { "alice-laptop", "alice-laptop" },
    { "  tab\there\n", "tab here" },
    { "", "lanspread" },
    { " \t ", "lanspread" },
    { NULL, "lanspread" },
    { "\xff\xfe" "broken", "lanspread" },
    { "0123456789012345678901234567890123456789012345678901234567890123", "012345678901234567890123456789012345678901234567890123456789012" },
    /* 31 two-byte characters and one more: cut between characters. */
    { "ééééééééééééééééééééééééééééééééé", "ééééééééééééééééééééééééééééééé" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = lsp_proto_sanitize_hostname (cases[i].in);

      g_assert_cmpstr (out, ==, cases[i].out);
      g_assert_true (lsp_proto_hostname_is_valid (out));
    }
}

static void
assert_have_rejected (const char *json,
                      const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspMessage) message = lsp_message_parse ((const guint8 *) json, strlen (json), &error);

  g_assert_null (message);
  g_assert_nonnull (error);
  if (strstr (error->message, fragment) == NULL)
    g_error ("“%s”: expected “%s” in “%s”", json, fragment, error->message);
}

#define HAVE_START "{\"type\": \"Have\", \"game_id\": \"quake3\", \"manifest_hash\": \"" DIGEST "\", "

static void
test_have (void)
{
  static const guint8 bits[] = { 0x05, 0x02 };   /* chunks 0, 2 and 9 of 10 */
  static const guint32 added[] = { 1, 7 };
  g_autoptr(LspMessage) whole = lsp_message_new_have_bitmap ("quake3", DIGEST, 10, bits);
  g_autoptr(LspMessage) some = lsp_message_new_have_added ("quake3", DIGEST, 10, added, G_N_ELEMENTS (added));
  g_autoptr(LspMessage) none = lsp_message_new_have_bitmap ("quake3", DIGEST, 0, NULL);
  g_autoptr(LspMessage) whole_back = roundtrip (whole);
  g_autoptr(LspMessage) some_back = roundtrip (some);
  g_autoptr(LspMessage) none_back = roundtrip (none);
  g_autofree guint8 *largest = g_malloc0 (LSP_PROTO_MAX_HAVE_CHUNKS / 8);
  g_autoptr(LspMessage) large = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (whole_back->have.game_id, ==, "quake3");
  g_assert_cmpstr (whole_back->have.manifest_hash, ==, DIGEST);
  g_assert_cmpuint (whole_back->have.chunk_count, ==, 10);
  g_assert_null (whole_back->have.added);
  g_assert_cmpmem (g_bytes_get_data (whole_back->have.bitmap, NULL), g_bytes_get_size (whole_back->have.bitmap),
                   bits, sizeof bits);
  g_assert_null (some_back->have.bitmap);
  g_assert_cmpuint (some_back->have.added->len, ==, 2);
  g_assert_cmpuint (g_array_index (some_back->have.added, guint32, 1), ==, 7);
  g_assert_cmpuint (none_back->have.chunk_count, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (none_back->have.bitmap), ==, 0);

  /* The largest bitmap fits in a Have frame, which is over the limit of
   * small frames. */
  memset (largest, 0xff, LSP_PROTO_MAX_HAVE_CHUNKS / 8);
  large = lsp_message_new_have_bitmap ("quake3", DIGEST, LSP_PROTO_MAX_HAVE_CHUNKS, largest);
  frame = lsp_message_encode (large, LSP_PROTO_MAX_HAVE_FRAME, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (frame), >, LSP_PROTO_MAX_SMALL_FRAME);
  g_assert_cmpuint (lsp_proto_max_frame_for_type (LSP_MESSAGE_HAVE), ==, LSP_PROTO_MAX_HAVE_FRAME);

  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"bitmap\": \"BQI=\", \"added\": [1]}", "cannot come with");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10}", "field “bitmap” is missing");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"bitmap\": \"BQ==\"}", "holds 1 bytes; 10 chunks take 2");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"bitmap\": \"BQQ=\"}", "bits set past chunk 9");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"bitmap\": \"BQI\"}", "is not base64");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"bitmap\": \"B=QI\"}", "is not base64");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"added\": [10]}", "entry 0 is not a chunk index below 10");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"added\": [-1]}", "is not a chunk index");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"added\": [\"1\"]}", "is not a chunk index");
  assert_have_rejected (HAVE_START "\"chunk_count\": 10, \"added\": []}", "field “added” is empty");
  assert_have_rejected (HAVE_START "\"chunk_count\": 262145, \"added\": [1]}", "out of range");
  assert_have_rejected ("{\"type\": \"Have\", \"game_id\": \"../x\", \"manifest_hash\": \"" DIGEST "\", "
                        "\"chunk_count\": 0, \"bitmap\": \"\"}", "field “game_id” is not a valid game id");
  {
    GString *many = g_string_new (HAVE_START "\"chunk_count\": 2000, \"added\": [0");

    for (guint i = 1; i <= LSP_PROTO_MAX_HAVE_ADDED; i++)
      g_string_append_printf (many, ",%u", i);
    g_string_append (many, "]}");
    assert_have_rejected (many->str, "has 1025 entries, more than 1024");
    g_string_free (many, TRUE);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/peer/proto/frame/byte-slices", test_frame_byte_slices);
  g_test_add_func ("/peer/proto/frame/stops-after-frame", test_frame_stops_after_frame);
  g_test_add_func ("/peer/proto/frame/limits", test_frame_limits);
  g_test_add_func ("/peer/proto/codec/roundtrip-control", test_roundtrip_control);
  g_test_add_func ("/peer/proto/codec/roundtrip-library", test_roundtrip_library);
  g_test_add_func ("/peer/proto/codec/manifest", test_manifest_message);
  g_test_add_func ("/peer/proto/codec/bad-frames", test_bad_frames);
  g_test_add_func ("/peer/proto/codec/invalid-messages", test_invalid_messages);
  g_test_add_func ("/peer/proto/codec/delta-size-limit", test_delta_size_limit);
  g_test_add_func ("/peer/proto/codec/unknown-and-extra", test_unknown_and_extra);
  g_test_add_func ("/peer/proto/codec/mutations", test_mutations);
  g_test_add_func ("/peer/proto/codec/have", test_have);
  g_test_add_func ("/peer/proto/game-summary/json", test_game_summary_json);
  g_test_add_func ("/peer/proto/game-summary/from-library", test_game_summary_from_library);
  g_test_add_func ("/peer/proto/negotiate-version", test_negotiate_version);
  g_test_add_func ("/peer/proto/listen-addr", test_listen_addr);
  g_test_add_func ("/peer/proto/sanitize-hostname", test_sanitize_hostname);
  g_test_add_func ("/peer/proto/sync/summary", test_sync_summary);
  g_test_add_func ("/peer/proto/sync/delta", test_sync_delta);

  return g_test_run ();
}
