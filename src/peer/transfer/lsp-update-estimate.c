#define G_LOG_DOMAIN "lsp-update-estimate"

#include "config.h"

#include "lsp-update-estimate.h"

#include "lsp-download-private.h"
#include "lsp-error.h"

#include <glib/gi18n-lib.h>
#include <string.h>

/* An update's delta from the manifests alone: the new version's chunks
 * whose hash the version we have does not list. The download itself
 * checks every local chunk before it uses one, so it may fetch more (a
 * file damaged since it was hashed), never less. */

typedef struct
{
  LspNode     *node;
  char        *games_path;
  char        *game_id;
  char        *version;
  char        *target_hash;
  char        *local_hash;
  LspManifest *local;
  LspManifest *target;
  guint64      bytes_to_fetch;
} Estimate;

static void
estimate_free (Estimate *estimate)
{
  g_clear_object (&estimate->node);
  g_free (estimate->games_path);
  g_free (estimate->game_id);
  g_free (estimate->version);
  g_free (estimate->target_hash);
  g_free (estimate->local_hash);
  g_clear_pointer (&estimate->local, lsp_manifest_unref);
  g_clear_pointer (&estimate->target, lsp_manifest_unref);
  g_free (estimate);
}

static guint64
count_missing (LspManifest *local,
               LspManifest *target)
{
  g_autoptr(GHashTable) have = g_hash_table_new (lsp_sha256_digest_hash, lsp_sha256_digest_equal);
  guint64 missing = 0;

  for (guint i = 0; i < lsp_manifest_get_n_files (local); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (local, i);

      for (guint c = 0; c < file->n_chunks; c++)
        g_hash_table_add (have, file->chunk_hashes + (gsize) c * LSP_SHA256_LEN);
    }
  /* A chunk is fetched once, however often the new version has it. */
  for (guint i = 0; i < lsp_manifest_get_n_files (target); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (target, i);

      for (guint c = 0; c < file->n_chunks; c++)
        {
          if (g_hash_table_add (have, file->chunk_hashes + (gsize) c * LSP_SHA256_LEN))
            missing += MIN ((guint64) LSP_MANIFEST_CHUNK_SIZE, file->size - (guint64) c * LSP_MANIFEST_CHUNK_SIZE);
        }
    }
  return missing;
}

static void
load_worker (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Estimate *estimate = task_data;
  GError *error = NULL;

  estimate->local = lsp_manifest_cache_load (estimate->games_path, estimate->local_hash, &error);
  if (estimate->local == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  estimate->target = lsp_manifest_cache_load (estimate->games_path, estimate->target_hash, NULL);
  if (estimate->target != NULL)
    estimate->bytes_to_fetch = count_missing (estimate->local, estimate->target);
  g_task_return_boolean (task, TRUE);
}

static void
on_manifest_fetched (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Estimate *estimate = g_task_get_task_data (task);
  GError *error = NULL;

  estimate->target = lsp_node_fetch_manifest_finish (LSP_NODE (object), result, &error);
  if (estimate->target == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  estimate->bytes_to_fetch = count_missing (estimate->local, estimate->target);
  g_task_return_boolean (task, TRUE);
}

/* The first connected peer offering the target manifest. */
static char *
find_source (Estimate *estimate)
{
  GListModel *peers = G_LIST_MODEL (estimate->node);

  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (peers, i);
      const LspGameSummary *game = lsp_peer_lookup_game (peer, estimate->game_id);

      if (game != NULL && game->availability == LSP_AVAILABILITY_READY &&
          g_strcmp0 (game->manifest_hash, estimate->target_hash) == 0 &&
          lsp_node_get_connection (estimate->node, lsp_peer_get_id (peer)) != NULL)
        return g_strdup (lsp_peer_get_id (peer));
    }
  return NULL;
}

static void
on_loaded (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Estimate *estimate = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autofree char *source = NULL;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (estimate->target != NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  source = find_source (estimate);
  if (source == NULL)
    {
      g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                               _("No player offers version %s of %s any more; try again when one is back"),
                               estimate->version, estimate->game_id);
      return;
    }
  lsp_node_fetch_manifest_async (estimate->node, source, estimate->game_id, estimate->target_hash,
                                 cancellable, on_manifest_fetched, g_steal_pointer (&task));
}

/* Finds the version a download would fetch and how many bytes of it the
 * version we have does not hold, fetching its manifest from a peer when
 * it is not cached here. Fails when the game is not downloaded here or
 * nobody offers a version. */
void
lsp_update_estimate_async (LspNode             *node,
                           LspLibrary          *library,
                           const char          *game_id,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) load = NULL;
  LspLocalGame *local = lsp_library_lookup (library, game_id);
  Estimate *estimate;

  g_return_if_fail (LSP_IS_NODE (node));
  g_return_if_fail (game_id != NULL);

  g_task_set_source_tag (task, lsp_update_estimate_async);
  estimate = g_new0 (Estimate, 1);
  g_task_set_task_data (task, estimate, (GDestroyNotify) estimate_free);
  estimate->node = g_object_ref (node);
  estimate->games_path = g_file_get_path (lsp_library_get_games_dir (library));
  estimate->game_id = g_strdup (game_id);
  if (local == NULL || !lsp_local_game_get_downloaded (local) || lsp_local_game_get_manifest_hash (local) == NULL)
    {
      g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                               _("%s is not downloaded here, so there is nothing to update"), game_id);
      return;
    }
  if (!_lsp_download_find_target (node, game_id, &estimate->version, &estimate->target_hash))
    {
      g_task_return_new_error (task, LSP_ERROR, LSP_ERROR_NOT_FOUND,
                               _("No player offers %s right now; try again when one is back"), game_id);
      return;
    }
  estimate->local_hash = g_strdup (lsp_local_game_get_manifest_hash (local));
  load = g_task_new (NULL, cancellable, on_loaded, g_steal_pointer (&task));
  g_task_set_source_tag (load, lsp_update_estimate_async);
  g_task_set_task_data (load, estimate, NULL);
  g_task_run_in_thread (load, load_worker);
}

gboolean
lsp_update_estimate_finish (GAsyncResult  *result,
                            char         **out_version,
                            guint64       *out_bytes_to_fetch,
                            GError       **error)
{
  Estimate *estimate;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  estimate = g_task_get_task_data (G_TASK (result));
  if (out_version != NULL)
    *out_version = g_strdup (estimate->version);
  if (out_bytes_to_fetch != NULL)
    *out_bytes_to_fetch = estimate->bytes_to_fetch;
  return TRUE;
}
