#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "lsp-error.h"
#include "lsp-manifest.h"
#include "lsp-test-util.h"

#define MiB (1024 * 1024)

typedef struct
{
  char *dir;
  int   fd;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  fixture->dir = lsp_test_make_temp_dir ();
  fixture->fd = open (fixture->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (fixture->fd, >=, 0);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  close (fixture->fd);
  lsp_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static void
write_sized (Fixture    *fixture,
             const char *relative,
             gsize       size,
             guint32     seed)
{
  g_autofree char *path = g_build_filename (fixture->dir, relative, NULL);
  lsp_test_write_random_file (path, size, seed);
}

/* SHA-256 of a byte range, computed independently of the engine. */
static char *
range_sha256 (Fixture    *fixture,
              const char *relative,
              goffset     offset,
              gsize       length)
{
  g_autofree char *path = g_build_filename (fixture->dir, relative, NULL);
  g_autofree char *contents = NULL;
  gsize size;

  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  g_assert_cmpuint ((gsize) offset + length, <=, size);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents + offset, length);
}

static void
assert_chunk (Fixture               *fixture,
              const LspManifestFile *file,
              guint                  chunk,
              gsize                  length)
{
  g_autofree char *expected = range_sha256 (fixture, file->path, (goffset) chunk * LSP_MANIFEST_CHUNK_SIZE, length);
  char hex[LSP_SHA256_HEX_LEN + 1];

  lsp_sha256_to_hex (file->chunk_hashes + chunk * LSP_SHA256_LEN, hex);
  g_assert_cmpstr (hex, ==, expected);
}

static void
test_build (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspManifest) manifest = NULL;
  const LspManifestFile *file;
  g_autofree char *fifo = g_build_filename (fixture->dir, "pipe", NULL);
  g_autofree char *link = g_build_filename (fixture->dir, "escape", NULL);

  write_sized (fixture, "empty.bin", 0, 1);
  write_sized (fixture, "game.eti", 4 * MiB + 1, 2);
  write_sized (fixture, "exact.eti", 4 * MiB, 3);
  write_sized (fixture, "data/maps/level1.pk3", 1000, 4);
  write_sized (fixture, "local/save.dat", 5000, 5);         /* the player's: never hashed */
  write_sized (fixture, ".local.backup/old.dat", 10, 6);
  write_sized (fixture, "version.ini", 3, 7);
  write_sized (fixture, ".lanspread.json", 3, 8);
  write_sized (fixture, ".sync/state", 3, 9);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (symlink ("/etc/hostname", link), ==, 0);

  manifest = lsp_manifest_build (fixture->fd, "game", "1.0", NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (lsp_manifest_get_n_files (manifest), ==, 4);
  g_assert_cmpstr (lsp_manifest_get_file (manifest, 0)->path, ==, "data/maps/level1.pk3");
  g_assert_cmpstr (lsp_manifest_get_file (manifest, 1)->path, ==, "empty.bin");
  g_assert_cmpstr (lsp_manifest_get_file (manifest, 2)->path, ==, "exact.eti");
  g_assert_cmpstr (lsp_manifest_get_file (manifest, 3)->path, ==, "game.eti");
  g_assert_cmpuint (lsp_manifest_get_total_size (manifest), ==, 8 * MiB + 1 + 1000);
  g_assert_null (lsp_manifest_lookup_file (manifest, "local/save.dat"));
  g_assert_null (lsp_manifest_lookup_file (manifest, "escape"));

  file = lsp_manifest_lookup_file (manifest, "empty.bin");
  g_assert_cmpuint (file->n_chunks, ==, 0);

  file = lsp_manifest_lookup_file (manifest, "exact.eti");
  g_assert_cmpuint (file->n_chunks, ==, 1);
  assert_chunk (fixture, file, 0, 4 * MiB);

  file = lsp_manifest_lookup_file (manifest, "game.eti");
  g_assert_cmpuint (file->n_chunks, ==, 2);
  assert_chunk (fixture, file, 0, 4 * MiB);
  assert_chunk (fixture, file, 1, 1);

  file = lsp_manifest_lookup_file (manifest, "data/maps/level1.pk3");
  assert_chunk (fixture, file, 0, 1000);
}

static void
test_hash_names_content (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(LspManifest) first = NULL;
  g_autoptr(LspManifest) again = NULL;
  g_autoptr(LspManifest) other_version = NULL;
  g_autoptr(LspManifest) changed = NULL;

  write_sized (fixture, "a.eti", 100, 1);
  first = lsp_manifest_build (fixture->fd, "game", "1.0", NULL, NULL);
  again = lsp_manifest_build (fixture->fd, "game", "1.0", NULL, NULL);
  other_version = lsp_manifest_build (fixture->fd, "game", "1.1", NULL, NULL);
  write_sized (fixture, "a.eti", 100, 2);  /* same size, other bytes */
  changed = lsp_manifest_build (fixture->fd, "game", "1.0", NULL, NULL);

  g_assert_cmpstr (lsp_manifest_get_hash (first), ==, lsp_manifest_get_hash (again));
  g_assert_cmpstr (lsp_manifest_get_hash (first), !=, lsp_manifest_get_hash (other_version));
  g_assert_cmpstr (lsp_manifest_get_hash (first), !=, lsp_manifest_get_hash (changed));
}

static void
test_json_round_trip (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(LspManifest) parsed = NULL;
  g_autoptr(JsonNode) node = NULL;

  write_sized (fixture, "a.eti", 5 * MiB, 1);
  write_sized (fixture, "sub/b.dat", 10, 2);
  manifest = lsp_manifest_build (fixture->fd, "game", "2", NULL, &error);
  g_assert_no_error (error);

  node = lsp_manifest_to_json (manifest);
  parsed = lsp_manifest_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lsp_manifest_get_hash (parsed), ==, lsp_manifest_get_hash (manifest));
  g_assert_cmpuint (lsp_manifest_get_total_size (parsed), ==, 5 * MiB + 10);
  g_assert_cmpuint (lsp_manifest_lookup_file (parsed, "a.eti")->n_chunks, ==, 2);
  g_assert_cmpmem (lsp_manifest_lookup_file (parsed, "a.eti")->chunk_hashes, 2 * LSP_SHA256_LEN,
                   lsp_manifest_lookup_file (manifest, "a.eti")->chunk_hashes, 2 * LSP_SHA256_LEN);
}

static void
test_hostile_json (void)
{
  static const char * const zero_hash = "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"";
  static const struct {
    const char *files;
    const char *fragment;
  } cases[] = {
    { "[{\"path\": \"../escape\", \"size\": 1, \"chunks\": [%s]}]", "unsafe" },
    { "[{\"path\": \"/etc/passwd\", \"size\": 1, \"chunks\": [%s]}]", "unsafe" },
    { "[{\"path\": \"a//b\", \"size\": 1, \"chunks\": [%s]}]", "unsafe" },
    { "[{\"path\": \"local/save\", \"size\": 1, \"chunks\": [%s]}]", "reserved" },
    { "[{\"path\": \"version.ini\", \"size\": 1, \"chunks\": [%s]}]", "reserved" },
    { "[{\"path\": \"LOCAL/save\", \"size\": 1, \"chunks\": [%s]}]", "reserved" },
    { "[{\"path\": \"Version.INI\", \"size\": 1, \"chunks\": [%s]}]", "reserved" },
    { "[{\"path\": \".\u017fync/x\", \"size\": 1, \"chunks\": [%s]}]", "reserved" },
    { "[{\"path\": \"a\", \"size\": 1, \"chunks\": [%s]}, {\"path\": \"a/b\", \"size\": 1, \"chunks\": [%s]}]",
      "file and also the folder" },
    { "[{\"path\": \"d/x/y\", \"size\": 0, \"chunks\": []}, {\"path\": \"d/x.txt\", \"size\": 1, \"chunks\": [%s]}, "
      "{\"path\": \"d/x\", \"size\": 1, \"chunks\": [%s]}]", "file and also the folder" },
    { "[{\"path\": \"a\", \"size\": -1, \"chunks\": [%s]}]", "size" },
    { "[{\"path\": \"a\", \"size\": \"1\", \"chunks\": [%s]}]", "size" },
    { "[{\"path\": \"a\", \"size\": 1, \"chunks\": [%s, %s]}]", "chunk hashes" },
    { "[{\"path\": \"a\", \"size\": 1, \"chunks\": [%s]}, {\"path\": \"a\", \"size\": 1, \"chunks\": [%s]}]", "twice" },
    { "[{\"path\": \"a\", \"size\": 1, \"chunks\": [\"XYZ\"]}]", "lowercase hex" },
    { "{}", "must be an array" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = NULL;
      g_autoptr(LspManifest) manifest = NULL;
      g_autofree char *files = NULL;
      g_autofree char *json = NULL;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      files = g_strdup_printf (cases[i].files, zero_hash, zero_hash);
#pragma GCC diagnostic pop
      json = g_strdup_printf ("{\"format\": 1, \"game_id\": \"g\", \"version\": \"1\", \"chunk_size\": %u, \"files\": %s}",
                              LSP_MANIFEST_CHUNK_SIZE, files);
      node = json_from_string (json, &error);
      g_assert_no_error (error);

      manifest = lsp_manifest_new_from_json (node, &error);
      g_test_message ("case %u: %s", i, json);
      g_assert_null (manifest);
      g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
      if (strstr (error->message, cases[i].fragment) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].fragment);
    }
}

/* Names that only look like a folder of another file are fine. */
static void
test_file_beside_folder (void)
{
  static const char json[] =
    "{\"format\": 1, \"game_id\": \"g\", \"version\": \"1\", \"chunk_size\": 4194304, \"files\": ["
    "{\"path\": \"a/b\", \"size\": 0, \"chunks\": []}, {\"path\": \"a.txt\", \"size\": 0, \"chunks\": []}, "
    "{\"path\": \"ab\", \"size\": 0, \"chunks\": []}, {\"path\": \"a-b/c\", \"size\": 0, \"chunks\": []}, "
    "{\"path\": \"localized/x\", \"size\": 0, \"chunks\": []}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = json_from_string (json, &error);
  g_autoptr(LspManifest) manifest = NULL;

  g_assert_no_error (error);
  manifest = lsp_manifest_new_from_json (node, &error);
  g_assert_no_error (error);
  g_assert_nonnull (lsp_manifest_lookup_file (manifest, "a/b"));
}

static void
test_tampered_hash (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(LspManifest) parsed = NULL;
  g_autoptr(JsonNode) built = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;
  JsonObject *file;

  write_sized (fixture, "a.eti", 100, 1);
  manifest = lsp_manifest_build (fixture->fd, "game", "1", NULL, &error);
  built = lsp_manifest_to_json (manifest);
  text = json_to_string (built, FALSE);
  node = json_from_string (text, &error);  /* mutable, unlike the builder's tree */
  g_assert_no_error (error);

  file = json_array_get_object_element (json_object_get_array_member (json_node_get_object (node), "files"), 0);
  json_object_set_int_member (file, "size", 100);
  json_array_remove_element (json_object_get_array_member (file, "chunks"), 0);
  json_array_add_string_element (json_object_get_array_member (file, "chunks"),
                                 "0000000000000000000000000000000000000000000000000000000000000000");

  parsed = lsp_manifest_new_from_json (node, &error);
  g_assert_null (parsed);
  g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "does not match manifest_hash"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/peer/manifest/build", Fixture, NULL, fixture_set_up, test_build, fixture_tear_down);
  g_test_add ("/peer/manifest/hash-names-content", Fixture, NULL, fixture_set_up, test_hash_names_content, fixture_tear_down);
  g_test_add ("/peer/manifest/json-round-trip", Fixture, NULL, fixture_set_up, test_json_round_trip, fixture_tear_down);
  g_test_add ("/peer/manifest/tampered-hash", Fixture, NULL, fixture_set_up, test_tampered_hash, fixture_tear_down);
  g_test_add_func ("/peer/manifest/hostile-json", test_hostile_json);
  g_test_add_func ("/peer/manifest/file-beside-folder", test_file_beside_folder);

  return g_test_run ();
}
