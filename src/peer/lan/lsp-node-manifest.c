#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node-private.h"

#include "lsp-game-root.h"

#include <glib/gi18n-lib.h>

/* Manifests on the control stream: serving GetManifest from the library's
 * cache, and our own fetches from a peer, one on the wire at a time. */

typedef struct
{
  GTask       *task;
  LspManifest *manifest;   /* or */
  GError      *error;
} FetchResult;

static gboolean
complete_fetch (gpointer user_data)
{
  FetchResult *result = user_data;

  if (result->manifest != NULL)
    g_task_return_pointer (result->task, g_steal_pointer (&result->manifest), (GDestroyNotify) lsp_manifest_unref);
  else
    g_task_return_error (result->task, g_steal_pointer (&result->error));
  g_object_unref (result->task);
  g_free (result);
  return G_SOURCE_REMOVE;
}

/* Fetches complete from an idle: answers arrive inside the session's own
 * frame handling, and a session is freed inside the node's bookkeeping,
 * where a caller's callback must not run. Takes the task. */
static void
complete_fetch_later (GTask       *task,
                      LspManifest *manifest,
                      GError      *error)
{
  FetchResult *result = g_new0 (FetchResult, 1);

  result->task = task;
  result->manifest = manifest;
  result->error = error;
  g_idle_add (complete_fetch, result);
}

void
_lsp_session_drop_manifest_fetches (Session *session)
{
  GTask *fetch;

  g_clear_handle_id (&session->manifest_timeout_id, g_source_remove);
  while ((fetch = g_queue_pop_head (&session->manifest_fetches)) != NULL)
    complete_fetch_later (fetch, NULL,
                          g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                               _("The connection to the peer ended before it sent the manifest")));
}

typedef struct
{
  LspNode       *node;
  char          *peer_id;
  LspQuicStream *control;
  /* What the worker reads; nothing else touches these meanwhile. */
  GFile         *file;
  char          *game_id;
  char          *manifest_hash;
} ManifestRequest;

/* On the main loop: the per-peer count is the node's. */
static void
manifest_request_free (ManifestRequest *request)
{
  LspNode *self = request->node;
  guint loads = GPOINTER_TO_UINT (g_hash_table_lookup (self->manifest_loads_by_peer, request->peer_id));

  self->manifest_loads--;
  if (loads > 1)
    g_hash_table_insert (self->manifest_loads_by_peer, g_strdup (request->peer_id), GUINT_TO_POINTER (loads - 1));
  else
    g_hash_table_remove (self->manifest_loads_by_peer, request->peer_id);
  g_free (request->peer_id);
  g_clear_object (&request->node);
  g_clear_object (&request->control);
  g_clear_object (&request->file);
  g_free (request->game_id);
  g_free (request->manifest_hash);
  g_free (request);
}

/* Reading, checking and encoding a manifest of up to 16 MiB takes long,
 * and peers choose how often we do it: a worker does it all and hands
 * back the frame to send. */
static void
load_manifest_in_thread (GTask        *task,
                         gpointer      source_object,
                         gpointer      task_data,
                         GCancellable *cancellable)
{
  ManifestRequest *request = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(LspMessage) answer = NULL;
  g_autofree char *contents = NULL;
  GBytes *frame = NULL;
  gsize length;

  if (g_file_load_contents (request->file, cancellable, &contents, &length, NULL, &error) &&
      (node = json_from_string (contents, &error)) != NULL &&
      (manifest = lsp_manifest_new_from_json (node, &error)) != NULL &&
      g_strcmp0 (lsp_manifest_get_hash (manifest), request->manifest_hash) == 0)
    {
      g_autoptr(LspMessage) found = lsp_message_new_manifest (manifest);
      frame = lsp_message_encode (found, LSP_PROTO_MAX_FRAME, NULL);
      if (frame == NULL)
        answer = lsp_message_new_error (LSP_PROTO_ERROR_TOO_LARGE, FALSE, "The manifest %s of %s does not fit in a frame",
                                        request->manifest_hash, request->game_id);
    }
  else
    answer = lsp_message_new_error (LSP_PROTO_ERROR_NOT_FOUND, FALSE,
                                    "The manifest %s of %s is not available here",
                                    request->manifest_hash, request->game_id);
  if (answer != NULL)
    frame = lsp_message_encode (answer, LSP_PROTO_MAX_FRAME, NULL);
  g_task_return_pointer (task, frame, (GDestroyNotify) g_bytes_unref);
}

/* The session a loaded manifest answers, if it is still there. */
static Session *
session_for_control (LspNode       *self,
                     LspQuicStream *control)
{
  for (guint i = 0; i < self->sessions->len; i++)
    {
      Session *session = g_ptr_array_index (self->sessions, i);

      if (session->control == control)
        return session;
    }
  return NULL;
}

/* The answer goes through its session, so it counts against what the
 * peer may leave unread. */
static void
on_manifest_loaded (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ManifestRequest *request = user_data;
  g_autoptr(GBytes) frame = g_task_propagate_pointer (G_TASK (result), NULL);
  Session *session = session_for_control (request->node, request->control);

  if (frame != NULL && session != NULL)
    _lsp_session_write_frame (session, frame);
  manifest_request_free (request);
}

/* Manifests are served from the library's cache, and only under the hash
 * the game has now. */
void
_lsp_session_answer_get_manifest (Session               *session,
                     const LspManifestBody *request)
{
  LspNode *self = session->node;
  LspLocalGame *game = lsp_library_lookup (self->library, request->game_id);
  const char *peer_id = lsp_quic_connection_get_peer_id (session->conn);
  guint peer_loads = GPOINTER_TO_UINT (g_hash_table_lookup (self->manifest_loads_by_peer, peer_id));
  g_autofree char *name = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GTask) task = NULL;
  ManifestRequest *pending;

  if (peer_loads >= MAX_MANIFEST_LOADS_PER_PEER || self->manifest_loads >= MAX_MANIFEST_LOADS)
    {
      _lsp_session_send_message (session, lsp_message_new_error (LSP_PROTO_ERROR_BUSY, FALSE,
                                                    "Too many manifest requests at once; ask again later"));
      return;
    }

  /* A damaged game's manifest is what its files hash to now: not one to
   * download by. */
  if (game == NULL || lsp_local_game_get_busy (game) || lsp_local_game_get_damaged (game) ||
      g_strcmp0 (lsp_local_game_get_manifest_hash (game), request->manifest_hash) != 0)
    {
      _lsp_session_send_message (session, lsp_message_new_error (game != NULL && lsp_local_game_get_busy (game)
                                                      ? LSP_PROTO_ERROR_BUSY : LSP_PROTO_ERROR_NOT_FOUND,
                                                    FALSE, "No manifest %s for %s here",
                                                    request->manifest_hash, request->game_id));
      return;
    }

  name = g_strconcat (request->manifest_hash, ".json", NULL);
  {
    g_autofree char *games = g_file_get_path (lsp_library_get_games_dir (self->library));
    g_autofree char *path = g_build_filename (games, LSP_STATE_DIR, "manifests", name, NULL);
    file = g_file_new_for_path (path);
  }

  pending = g_new0 (ManifestRequest, 1);
  pending->node = g_object_ref (self);
  pending->peer_id = g_strdup (peer_id);
  self->manifest_loads++;
  g_hash_table_insert (self->manifest_loads_by_peer, g_strdup (peer_id), GUINT_TO_POINTER (peer_loads + 1));
  pending->control = g_object_ref (session->control);
  pending->file = g_steal_pointer (&file);
  pending->game_id = g_strdup (request->game_id);
  pending->manifest_hash = g_strdup (request->manifest_hash);
  /* The request is freed by the callback, on the main loop, not with the
   * task, which a worker may finalize. */
  task = g_task_new (self, self->cancellable, on_manifest_loaded, pending);
  g_task_set_source_tag (task, _lsp_session_answer_get_manifest);
  g_task_set_task_data (task, pending, NULL);
  g_task_run_in_thread (task, load_manifest_in_thread);
}

static void send_next_manifest_fetch (Session *session);

/* A Manifest answers the fetch on the wire when it is for the same game
 * and hash; one nobody asked for is dropped. The codec already checked
 * that it hashes to its name and belongs to its game. */
void
_lsp_session_answer_manifest_fetch (Session               *session,
                       const LspManifestBody *answer)
{
  GTask *task = g_queue_peek_head (&session->manifest_fetches);
  const char * const *asked = task != NULL ? g_task_get_task_data (task) : NULL;

  if (asked == NULL || !g_str_equal (asked[0], answer->game_id) || !g_str_equal (asked[1], answer->manifest_hash))
    {
      g_debug ("Dropping a Manifest of %s nobody asked %s for", answer->game_id, lsp_peer_get_id (session->peer));
      return;
    }
  g_queue_pop_head (&session->manifest_fetches);
  complete_fetch_later (task, lsp_manifest_ref (answer->manifest), NULL);
  send_next_manifest_fetch (session);
}

/* Errors carry no request id; on the control stream only a manifest fetch
 * is answered by a non-fatal one, so it refuses the fetch on the wire. */
void
_lsp_session_refuse_manifest_fetch (Session            *session,
                       const LspErrorBody *error)
{
  GTask *task = g_queue_pop_head (&session->manifest_fetches);
  int code = g_str_equal (error->code, LSP_PROTO_ERROR_BUSY) ? G_IO_ERROR_BUSY : G_IO_ERROR_NOT_FOUND;

  if (task == NULL)
    return;
  complete_fetch_later (task, NULL, g_error_new (G_IO_ERROR, code, _("%s refused the manifest: %s"),
                                                 lsp_peer_get_hostname (session->peer), error->message));
  send_next_manifest_fetch (session);
}

static gboolean on_manifest_fetch_timeout (gpointer user_data);

/* Only the oldest fetch is on the wire: a peer may answer a refusal
 * before an earlier success, and answers carry no request id. */
static void
send_next_manifest_fetch (Session *session)
{
  GTask *task = g_queue_peek_head (&session->manifest_fetches);
  const char * const *asked;

  g_clear_handle_id (&session->manifest_timeout_id, g_source_remove);
  if (task == NULL)
    return;
  asked = g_task_get_task_data (task);
  _lsp_session_send_message (session, lsp_message_new_get_manifest (asked[0], asked[1]));
  session->manifest_timeout_id = g_timeout_add_seconds (MANIFEST_FETCH_TIMEOUT_SECONDS,
                                                        on_manifest_fetch_timeout, session);
}

static gboolean
on_manifest_fetch_timeout (gpointer user_data)
{
  Session *session = user_data;
  GTask *task = g_queue_pop_head (&session->manifest_fetches);

  session->manifest_timeout_id = 0;
  complete_fetch_later (task, NULL, g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                                 _("%s did not send the manifest in %u seconds"),
                                                 lsp_peer_get_hostname (session->peer),
                                                 MANIFEST_FETCH_TIMEOUT_SECONDS));
  send_next_manifest_fetch (session);
  return G_SOURCE_REMOVE;
}

void
_lsp_session_fetch_manifest (Session *session,
                             GTask   *task)
{
  g_queue_push_tail (&session->manifest_fetches, g_object_ref (task));
  if (g_queue_get_length (&session->manifest_fetches) == 1)
    send_next_manifest_fetch (session);
}
