#define G_LOG_DOMAIN "lsp-node"

#include "config.h"

#include "lsp-node-private.h"

#include "lsp-local-summary.h"
#include "lsp-sync.h"

#include <string.h>

/* Our library as the protocol shows it: summaries, snapshots, the
 * change history deltas are cut from, and pushing changes to peers. */

void
_lsp_node_history_entry_free (HistoryEntry *entry)
{
  g_strfreev (entry->changed);
  g_strfreev (entry->removed);
  g_free (entry);
}

static GPtrArray *
collect_summaries (LspNode     *self,
                   const char **ids)
{
  GPtrArray *games = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);
  GListModel *model = G_LIST_MODEL (self->library);

  if (ids == NULL)
    {
      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        {
          g_autoptr(LspLocalGame) game = g_list_model_get_item (model, i);
          g_ptr_array_add (games, lsp_game_summary_new_from_local_game (game));
        }
      return games;
    }

  for (guint i = 0; ids[i] != NULL; i++)
    {
      LspLocalGame *game = lsp_library_lookup (self->library, ids[i]);
      if (game != NULL)
        g_ptr_array_add (games, lsp_game_summary_new_from_local_game (game));
    }
  return games;
}

LspMessage *
_lsp_node_new_snapshot (LspNode *self)
{
  g_autoptr(GPtrArray) games = collect_summaries (self, NULL);

  return lsp_message_new_library_snapshot (lsp_identity_get_peer_id (self->identity),
                                           lsp_library_get_rev (self->library),
                                           lsp_library_get_digest (self->library),
                                           games);
}

/* The changes since since_rev from the history, or NULL when the history
 * does not reach back that far. */
LspMessage *
_lsp_node_new_delta_since (LspNode *self,
                           guint64  since_rev)
{
  g_autoptr(GHashTable) changed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) removed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) changed_ids = g_ptr_array_new ();
  g_autoptr(GPtrArray) removed_ids = g_ptr_array_new ();
  g_autoptr(GPtrArray) updated = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);
  guint64 rev = lsp_library_get_rev (self->library);
  gboolean started = FALSE;
  GHashTableIter iter;
  gpointer key;

  if (since_rev > rev || self->history_rev != rev)
    return NULL;
  /* Up to date: an empty delta, not the whole history. */
  if (since_rev == rev)
    started = TRUE;

  for (GList *l = self->history.head; l != NULL; l = l->next)
    {
      HistoryEntry *entry = l->data;

      if (since_rev == rev)
        break;
      if (!started && entry->from_rev == since_rev)
        started = TRUE;
      if (!started)
        continue;
      for (guint i = 0; entry->changed[i] != NULL; i++)
        g_hash_table_add (changed, entry->changed[i]);
      for (guint i = 0; entry->removed[i] != NULL; i++)
        g_hash_table_add (removed, entry->removed[i]);
    }
  if (!started || g_hash_table_size (changed) + g_hash_table_size (removed) > LSP_PROTO_MAX_GAMES)
    return NULL;

  g_hash_table_iter_init (&iter, changed);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (lsp_library_lookup (self->library, key) != NULL)
        g_ptr_array_add (changed_ids, key);
    }
  g_ptr_array_add (changed_ids, NULL);

  g_hash_table_iter_init (&iter, removed);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (lsp_library_lookup (self->library, key) == NULL)
        g_ptr_array_add (removed_ids, key);
    }
  g_ptr_array_add (removed_ids, NULL);

  /* Summaries are full states, so a game new since since_rev may travel
   * under "updated": receivers treat both lists alike. */
  updated = collect_summaries (self, (const char **) changed_ids->pdata);
  return lsp_message_new_library_delta (lsp_identity_get_peer_id (self->identity),
                                        since_rev, rev,
                                        lsp_library_get_digest (self->library),
                                        g_list_model_get_n_items (G_LIST_MODEL (self->library)),
                                        added, updated,
                                        (const char * const *) removed_ids->pdata);
}

LspMessage *
_lsp_node_new_summary (LspNode *self)
{
  return lsp_message_new_library_summary (lsp_identity_get_peer_id (self->identity),
                                          lsp_library_get_rev (self->library),
                                          lsp_library_get_digest (self->library),
                                          g_list_model_get_n_items (G_LIST_MODEL (self->library)));
}

char *
_lsp_node_listen_addr (LspNode *self)
{
  GInetSocketAddress *local = lsp_quic_endpoint_get_local_address (self->endpoint);
  GInetAddress *inet = g_inet_socket_address_get_address (local);
  g_autofree char *host = g_inet_address_to_string (inet);

  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", host, lsp_quic_endpoint_get_port (self->endpoint));
  return g_strdup_printf ("%s:%u", host, lsp_quic_endpoint_get_port (self->endpoint));
}

LspMessage *
_lsp_node_new_hello (LspNode        *self,
                     LspMessageType  type)
{
  g_autofree char *addr = _lsp_node_listen_addr (self);
  const char *features[3];
  guint n_features = 0;
  LspMessage *message;

  if (self->swarm)
    features[n_features++] = LSP_PROTO_FEATURE_SWARM;
  if (self->party_key != NULL)
    features[n_features++] = LSP_PROTO_FEATURE_AUTH;
  features[n_features] = NULL;

  message = lsp_message_new_hello (type, lsp_identity_get_peer_id (self->identity), addr,
                                   lsp_library_get_rev (self->library),
                                   lsp_library_get_digest (self->library),
                                   (const char * const *) features, self->hostname);
  message->hello.proto_ver = self->proto_max;
  message->hello.min_proto_ver = self->proto_min;
  return message;
}


/* Pushing our changes: library changes within the debounce window go out
 * as one delta to every established session. */

static gboolean
push_changes (gpointer user_data)
{
  LspNode *self = user_data;
  guint64 rev = lsp_library_get_rev (self->library);

  self->push_id = 0;
  for (guint i = 0; i < self->sessions->len; i++)
    {
      Session *session = g_ptr_array_index (self->sessions, i);
      LspMessage *message;

      if (!session->established || session->closing || session->sent_rev == rev)
        continue;
      message = _lsp_node_new_delta_since (self, session->sent_rev);
      _lsp_session_send_message (session, message != NULL ? message : _lsp_node_new_summary (self));
      session->sent_rev = rev;
    }
  return G_SOURCE_REMOVE;
}

void
_lsp_node_on_library_changed (LspLibrary         *library,
                              guint64             rev,
                              const char * const *changed,
                              const char * const *removed,
                              LspNode            *self)
{
  HistoryEntry *entry = g_new0 (HistoryEntry, 1);

  entry->from_rev = self->history_rev;
  entry->to_rev = rev;
  entry->changed = g_strdupv ((char **) changed);
  entry->removed = g_strdupv ((char **) removed);
  g_queue_push_tail (&self->history, entry);
  while (self->history.length > LSP_PROTO_DELTA_HISTORY)
    _lsp_node_history_entry_free (g_queue_pop_head (&self->history));
  self->history_rev = rev;

  if (self->discovery != NULL)
    lsp_discovery_set_library_rev (self->discovery, rev);
  if (self->push_id == 0)
    self->push_id = g_timeout_add (LSP_NODE_PUSH_DEBOUNCE_MS, push_changes, self);
}
