#define G_LOG_DOMAIN "lsp-lan-library"

#include "config.h"

#include "lsp-lan-library.h"

#include <string.h>

#include "lsp-game-root.h"
#include "lsp-lan-game-private.h"

struct _LspLanLibrary
{
  GObject     parent_instance;

  LspLibrary *library;
  LspNode    *node;
  GPtrArray  *games;   /* LspLanGame sorted by id: the GListModel */
  GPtrArray  *peers;   /* LspPeer whose games-changed we follow */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LspLanLibrary, lsp_lan_library, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static guint
find_position (LspLanLibrary *self,
               const char    *id,
               gboolean      *found)
{
  guint lo = 0, hi = self->games->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      int cmp = strcmp (id, lsp_lan_game_get_id (g_ptr_array_index (self->games, mid)));

      if (cmp == 0)
        {
          *found = TRUE;
          return mid;
        }
      if (cmp < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  *found = FALSE;
  return lo;
}

/* Works out what the LAN knows of one game and updates, adds or drops its
 * row. */
static void
refresh_game (LspLanLibrary *self,
              const char    *id)
{
  g_autoptr(GPtrArray) sources = g_ptr_array_new ();
  LspLocalGame *local = lsp_library_lookup (self->library, id);
  const LspCatalogEntry *entry = lsp_catalog_lookup (lsp_library_get_catalog (self->library), id);
  GListModel *peers = G_LIST_MODEL (self->node);
  const LspGameSummary *newest = NULL;
  LspLanGameFacts facts = { 0 };
  gboolean any_remote = FALSE;
  gboolean found;
  guint position;

  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (peers, i);
      const LspGameSummary *summary = lsp_peer_lookup_game (peer, id);

      if (summary == NULL)
        continue;
      any_remote = TRUE;
      if (summary->availability != LSP_AVAILABILITY_READY || summary->version == NULL)
        continue;
      if (newest == NULL || lsp_version_compare (summary->version, newest->version) > 0)
        newest = summary;
    }

  position = find_position (self, id, &found);
  if (local == NULL && !any_remote)
    {
      if (found)
        {
          g_ptr_array_remove_index (self->games, position);
          g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
        }
      return;
    }

  if (newest != NULL)
    {
      for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
        {
          g_autoptr(LspPeer) peer = g_list_model_get_item (peers, i);
          const LspGameSummary *summary = lsp_peer_lookup_game (peer, id);

          if (summary != NULL && summary->availability == LSP_AVAILABILITY_READY &&
              g_strcmp0 (summary->version, newest->version) == 0 &&
              g_strcmp0 (summary->manifest_hash, newest->manifest_hash) == 0)
            g_ptr_array_add (sources, (gpointer) lsp_peer_get_id (peer));
        }
      g_ptr_array_sort (sources, (GCompareFunc) g_strcmp0);
    }
  g_ptr_array_add (sources, NULL);

  facts.name = entry != NULL ? entry->name : newest != NULL ? newest->name : id;
  facts.state = LSP_LAN_GAME_REMOTE;
  if (local != NULL && lsp_local_game_get_installed (local))
    facts.state = LSP_LAN_GAME_INSTALLED;
  else if (local != NULL && lsp_local_game_get_downloaded (local))
    facts.state = LSP_LAN_GAME_DOWNLOADED;
  /* Our version: the archives we have, or else the install's record, so an
   * installed game whose archives were removed still sees updates. */
  facts.local_version = local == NULL ? NULL
                      : lsp_local_game_get_version (local) != NULL ? lsp_local_game_get_version (local)
                      : lsp_local_game_get_installed_version (local);
  facts.newest_version = newest != NULL ? newest->version : facts.local_version;
  if (facts.local_version != NULL && newest != NULL &&
      lsp_version_compare (facts.local_version, newest->version) > 0)
    facts.newest_version = facts.local_version;
  facts.update_available = facts.local_version != NULL && newest != NULL &&
                           lsp_version_compare (newest->version, facts.local_version) > 0;
  facts.size = local != NULL && lsp_local_game_get_downloaded (local) && !facts.update_available
               ? lsp_local_game_get_size (local) : newest != NULL ? newest->size : 0;
  facts.sources = (GStrv) sources->pdata;

  if (!found)
    {
      LspLanGame *game = _lsp_lan_game_new (id);

      _lsp_lan_game_apply (game, &facts);
      g_ptr_array_insert (self->games, (int) position, game);
      g_list_model_items_changed (G_LIST_MODEL (self), position, 0, 1);
      return;
    }
  _lsp_lan_game_apply (g_ptr_array_index (self->games, position), &facts);
}

static void
refresh_games (LspLanLibrary      *self,
               const char * const *ids)
{
  for (guint i = 0; ids != NULL && ids[i] != NULL; i++)
    refresh_game (self, ids[i]);
}

static void
on_library_changed (LspLibrary         *library,
                    guint64             rev,
                    const char * const *changed,
                    const char * const *removed,
                    LspLanLibrary      *self)
{
  refresh_games (self, changed);
  refresh_games (self, removed);
}

static void
on_peer_games_changed (LspPeer            *peer,
                       const char * const *changed,
                       const char * const *removed,
                       LspLanLibrary      *self)
{
  refresh_games (self, changed);
  refresh_games (self, removed);
}

static void
refresh_all (LspLanLibrary *self)
{
  GListModel *local = G_LIST_MODEL (self->library);
  GListModel *peers = G_LIST_MODEL (self->node);

  for (guint i = 0; i < g_list_model_get_n_items (local); i++)
    {
      g_autoptr(LspLocalGame) game = g_list_model_get_item (local, i);
      refresh_game (self, lsp_local_game_get_id (game));
    }
  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      g_autoptr(LspPeer) peer = g_list_model_get_item (peers, i);
      g_autoptr(GPtrArray) games = lsp_peer_dup_games (peer);

      for (guint j = 0; j < games->len; j++)
        refresh_game (self, ((LspGameSummary *) g_ptr_array_index (games, j))->id);
    }
}

/* Follows every peer's library; a peer that leaves has already reported
 * its games as removed. */
static void
on_peers_changed (GListModel    *peers,
                  guint          position,
                  guint          removed,
                  guint          added,
                  LspLanLibrary *self)
{
  for (guint i = 0; i < self->peers->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->peers, i), self);
  g_ptr_array_set_size (self->peers, 0);

  for (guint i = 0; i < g_list_model_get_n_items (peers); i++)
    {
      LspPeer *peer = g_list_model_get_item (peers, i);

      g_signal_connect (peer, "games-changed", G_CALLBACK (on_peer_games_changed), self);
      g_ptr_array_add (self->peers, peer);
    }
  refresh_all (self);
}

static GType
list_model_get_item_type (GListModel *model)
{
  return LSP_TYPE_LAN_GAME;
}

static guint
list_model_get_n_items (GListModel *model)
{
  return LSP_LAN_LIBRARY (model)->games->len;
}

static gpointer
list_model_get_item (GListModel *model,
                     guint       position)
{
  LspLanLibrary *self = LSP_LAN_LIBRARY (model);

  if (position >= self->games->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->games, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = list_model_get_item_type;
  iface->get_n_items = list_model_get_n_items;
  iface->get_item = list_model_get_item;
}

static void
lsp_lan_library_dispose (GObject *object)
{
  LspLanLibrary *self = LSP_LAN_LIBRARY (object);

  if (self->peers != NULL)
    {
      for (guint i = 0; i < self->peers->len; i++)
        g_signal_handlers_disconnect_by_data (g_ptr_array_index (self->peers, i), self);
      g_clear_pointer (&self->peers, g_ptr_array_unref);
    }
  if (self->node != NULL)
    g_signal_handlers_disconnect_by_data (self->node, self);
  if (self->library != NULL)
    g_signal_handlers_disconnect_by_data (self->library, self);
  g_clear_object (&self->node);
  g_clear_object (&self->library);

  G_OBJECT_CLASS (lsp_lan_library_parent_class)->dispose (object);
}

static void
lsp_lan_library_finalize (GObject *object)
{
  LspLanLibrary *self = LSP_LAN_LIBRARY (object);

  g_clear_pointer (&self->games, g_ptr_array_unref);

  G_OBJECT_CLASS (lsp_lan_library_parent_class)->finalize (object);
}

static void
lsp_lan_library_class_init (LspLanLibraryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_lan_library_dispose;
  object_class->finalize = lsp_lan_library_finalize;
}

static void
lsp_lan_library_init (LspLanLibrary *self)
{
  self->games = g_ptr_array_new_with_free_func (g_object_unref);
  self->peers = g_ptr_array_new_with_free_func (g_object_unref);
}

LspLanLibrary *
lsp_lan_library_new (LspLibrary *library,
                     LspNode    *node)
{
  LspLanLibrary *self;

  g_return_val_if_fail (LSP_IS_LIBRARY (library), NULL);
  g_return_val_if_fail (LSP_IS_NODE (node), NULL);

  self = g_object_new (LSP_TYPE_LAN_LIBRARY, NULL);
  self->library = g_object_ref (library);
  self->node = g_object_ref (node);
  g_signal_connect (library, "changed", G_CALLBACK (on_library_changed), self);
  g_signal_connect (node, "items-changed", G_CALLBACK (on_peers_changed), self);
  on_peers_changed (G_LIST_MODEL (node), 0, 0, 0, self);
  return self;
}

LspLanGame *
lsp_lan_library_lookup (LspLanLibrary *self,
                        const char    *game_id)
{
  gboolean found;
  guint position;

  g_return_val_if_fail (LSP_IS_LAN_LIBRARY (self), NULL);

  position = find_position (self, game_id, &found);
  return found ? g_ptr_array_index (self->games, position) : NULL;
}
