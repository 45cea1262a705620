#define G_LOG_DOMAIN "lsp-game-details"

#include "config.h"

#include "lsp-game-details.h"

#include "lsp-game-card.h"

#include <glib/gi18n.h>
#include <string.h>

/* The details of a game: the catalog's description, its versions here and
 * on the LAN, what the last verify of its files found, who has it, and
 * during a download how much each player gave; its card on top carries
 * the same actions, Cancel and Verify Files included. */

/* A verify's findings name at most this many files; the rest are counted. */
#define MAX_LISTED_PROBLEMS 3

struct _LspGameDetails
{
  GtkWidget       parent_instance;

  GtkWidget      *scroller;
  GtkWidget      *card;
  GtkLabel       *description;
  AdwActionRow   *genre_row;
  AdwActionRow   *players_row;
  AdwActionRow   *local_row;
  AdwActionRow   *newest_row;
  AdwActionRow   *size_row;
  AdwActionRow   *files_row;
  GtkWidget      *sources_group;
  GPtrArray      *source_rows;

  LspEngine      *engine;
  LspLanGame     *game;
  LspDownload    *download;
};

G_DEFINE_FINAL_TYPE (LspGameDetails, lsp_game_details, GTK_TYPE_WIDGET)

static void
clear_sources (LspGameDetails *self)
{
  for (guint i = 0; i < self->source_rows->len; i++)
    adw_preferences_group_remove (ADW_PREFERENCES_GROUP (self->sources_group), g_ptr_array_index (self->source_rows, i));
  g_ptr_array_set_size (self->source_rows, 0);
}

static void
add_source_row (LspGameDetails *self,
                const char     *title,
                const char     *subtitle)
{
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (self->sources_group), row);
  g_ptr_array_add (self->source_rows, row);
}

static void
set_row (AdwActionRow *row,
         const char   *value)
{
  adw_action_row_set_subtitle (row, value != NULL && value[0] != '\0' ? value : "—");
}

static void
list_problems (GString   *text,
               GPtrArray *problems,
               guint     *listed)
{
  for (guint i = 0; i < problems->len; i++, (*listed)++)
    {
      LspVerifyProblem *problem = g_ptr_array_index (problems, i);
      const char *what;

      if (*listed >= MAX_LISTED_PROBLEMS)
        continue;
      switch (problem->kind)
        {
        case LSP_VERIFY_MISSING:
          what = _("missing");
          break;
        case LSP_VERIFY_RESIZED:
          what = _("wrong size");
          break;
        case LSP_VERIFY_CORRUPT:
          what = _("corrupt");
          break;
        case LSP_VERIFY_UNRECORDED:
          /* Translators: a game's file that is in its folder but not in the record of what the install wrote */
          what = _("not from this install");
          break;
        case LSP_VERIFY_CHANGED:
        default:
          what = _("changed");
          break;
        }
      /* Translators: a file and what is wrong with it, like "data/level1.dat (missing)" */
      g_string_append_printf (text, _("%s%s (%s)"), *listed > 0 ? ", " : "", problem->path, what);
    }
}

/* What the last verify or repair found, or what is going on now. */
static char *
describe_files (LspGameDetails *self)
{
  const char *id = lsp_lan_game_get_id (self->game);
  LspInstaller *installer = lsp_engine_get_installer (self->engine);
  LspOperation *operation = lsp_installer_lookup_operation (installer, id);
  LspVerifyReport *report = lsp_installer_lookup_report (installer, id);
  LspLocalGame *local = lsp_library_lookup (lsp_engine_get_library (self->engine), id);
  g_autoptr(GString) text = NULL;
  gboolean payload_damaged, installed_damaged;
  guint listed = 0;

  payload_damaged = local != NULL && lsp_local_game_get_damaged (local);
  installed_damaged = report != NULL && report->installed == LSP_VERIFY_DAMAGED && !report->repaired;
  if (operation != NULL && lsp_operation_get_kind (operation) == LSP_OPERATION_VERIFY)
    return g_strdup (_("Checking…"));
  if (operation != NULL && lsp_operation_get_kind (operation) == LSP_OPERATION_REPAIR)
    return g_strdup (_("Repairing…"));
  if (report == NULL && !payload_damaged)
    return g_strdup (_("Not checked; “Verify Files” in the menu checks them"));
  if (report == NULL)
    return g_strdup (_("Damaged: some downloaded files no longer match; repair them"));
  text = g_string_new (NULL);
  if (report->repaired && !payload_damaged && report->installed_problems->len > 0)
    {
      list_problems (text, report->installed_problems, &listed);
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Repaired %u file: %s", "Repaired %u files: %s", listed),
                              listed, text->str);
    }
  if (report->installed == LSP_VERIFY_CANNOT_JUDGE && !payload_damaged)
    return g_strdup (_("Installed by another tool: its files cannot be checked"));
  if (!payload_damaged && !installed_damaged)
    return g_strdup (_("All files are as shipped"));

  /* The payload's verdict is the library's, which a repair or a rescan
   * keeps current; the listed files are the last verify's. */
  if (payload_damaged)
    list_problems (text, report->payload_problems, &listed);
  if (installed_damaged)
    list_problems (text, report->installed_problems, &listed);
  if (listed > MAX_LISTED_PROBLEMS)
    /* Translators: after a list of damaged files, how many more there are */
    g_string_append_printf (text, g_dngettext (GETTEXT_PACKAGE, " and %u more", " and %u more",
                                               listed - MAX_LISTED_PROBLEMS), listed - MAX_LISTED_PROBLEMS);
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u file damaged: %s", "%u files damaged: %s", listed),
                          listed, text->str);
}

static void
update_details (LspGameDetails *self)
{
  const char *id;
  const LspCatalogEntry *entry;
  const char * const *sources;
  g_autoptr(GHashTable) given = NULL;
  g_autofree char *size = NULL;
  g_autofree char *players = NULL;
  LspDownload *download;

  if (self->game == NULL || self->engine == NULL)
    return;
  id = lsp_lan_game_get_id (self->game);
  entry = lsp_catalog_lookup (lsp_library_get_catalog (lsp_engine_get_library (self->engine)), id);
  download = lsp_download_manager_lookup (lsp_engine_get_downloads (self->engine), id);
  if (download != self->download)
    {
      if (self->download != NULL)
        g_signal_handlers_disconnect_by_data (self->download, self);
      g_set_object (&self->download, download);
      if (download != NULL)
        g_signal_connect_object (download, "notify::bytes-done", G_CALLBACK (update_details), self, G_CONNECT_SWAPPED);
    }

  gtk_label_set_label (self->description, entry != NULL && entry->description != NULL ? entry->description
                                                                                        : _("No description"));
  set_row (self->genre_row, entry != NULL ? entry->genre : NULL);
  players = entry != NULL && entry->max_players > 0 ? g_strdup_printf ("%u", entry->max_players) : NULL;
  set_row (self->players_row, players);
  set_row (self->local_row, lsp_lan_game_get_local_version (self->game));
  set_row (self->newest_row, lsp_lan_game_get_newest_version (self->game));
  size = g_format_size (lsp_lan_game_get_size (self->game));
  set_row (self->size_row, size);
  {
    g_autofree char *files = describe_files (self);

    set_row (self->files_row, files);
  }

  /* Who has it, and how much each gave to the download in flight. */
  clear_sources (self);
  given = self->download != NULL ? lsp_download_dup_peer_bytes (self->download) : NULL;
  sources = lsp_lan_game_get_sources (self->game);
  for (guint i = 0; sources != NULL && sources[i] != NULL; i++)
    {
      LspPeer *peer = lsp_node_lookup_peer (lsp_engine_get_node (self->engine), sources[i]);
      guint64 *bytes = given != NULL ? g_hash_table_lookup (given, sources[i]) : NULL;
      g_autofree char *amount = bytes != NULL ? g_format_size (*bytes) : NULL;
      g_autofree char *subtitle = NULL;

      if (amount != NULL)
        subtitle = g_strdup_printf (_("%s · gave %s to this download"),
                                    peer != NULL && lsp_peer_get_address (peer) ? lsp_peer_get_address (peer) : "",
                                    amount);
      else
        subtitle = g_strdup (peer != NULL && lsp_peer_get_address (peer) ? lsp_peer_get_address (peer) : "");
      add_source_row (self, peer != NULL && lsp_peer_get_hostname (peer) != NULL ? lsp_peer_get_hostname (peer)
                                                                                 : _("A player"), subtitle);
    }
  /* Players who gave parts of the game while downloading it themselves. */
  if (given != NULL)
    {
      g_autoptr(GList) givers = g_list_sort (g_hash_table_get_keys (given), (GCompareFunc) strcmp);

      for (GList *l = givers; l != NULL; l = l->next)
        {
          LspPeer *peer = lsp_node_lookup_peer (lsp_engine_get_node (self->engine), l->data);
          g_autofree char *amount = NULL, *subtitle = NULL;
          guint64 bytes = *(guint64 *) g_hash_table_lookup (given, l->data);

          if (bytes == 0 || (sources != NULL && g_strv_contains (sources, l->data)))
            continue;
          amount = g_format_size (bytes);
          subtitle = g_strdup_printf (_("%s · gave %s to this download"),
                                      peer != NULL && lsp_peer_get_address (peer) ? lsp_peer_get_address (peer) : "",
                                      amount);
          add_source_row (self, peer != NULL && lsp_peer_get_hostname (peer) != NULL ? lsp_peer_get_hostname (peer)
                                                                                     : _("A player"), subtitle);
        }
    }
  if (self->source_rows->len == 0)
    add_source_row (self, _("No other player has it right now"), "");
}

/**
 * lsp_game_details_get_files_status:
 *
 * Returns: (transfer none): what the details say about the game's files
 */
const char *
lsp_game_details_get_files_status (LspGameDetails *self)
{
  g_return_val_if_fail (LSP_IS_GAME_DETAILS (self), NULL);
  return adw_action_row_get_subtitle (self->files_row);
}

void
lsp_game_details_show (LspGameDetails *self,
                       LspEngine      *engine,
                       LspLanGame     *game)
{
  g_return_if_fail (LSP_IS_GAME_DETAILS (self));
  g_return_if_fail (LSP_IS_ENGINE (engine));
  g_return_if_fail (LSP_IS_LAN_GAME (game));

  lsp_game_details_clear (self);
  self->engine = g_object_ref (engine);
  self->game = g_object_ref (game);
  lsp_game_card_bind (LSP_GAME_CARD (self->card), engine, game);
  g_signal_connect_object (game, "notify", G_CALLBACK (update_details), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_downloads (engine), "items-changed",
                           G_CALLBACK (update_details), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_installer (engine), "operation-started",
                           G_CALLBACK (update_details), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_installer (engine), "operation-finished",
                           G_CALLBACK (update_details), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (lsp_engine_get_library (engine), "changed",
                           G_CALLBACK (update_details), self, G_CONNECT_SWAPPED);
  update_details (self);
}

void
lsp_game_details_clear (LspGameDetails *self)
{
  g_return_if_fail (LSP_IS_GAME_DETAILS (self));

  lsp_game_card_unbind (LSP_GAME_CARD (self->card));
  if (self->download != NULL)
    g_signal_handlers_disconnect_by_data (self->download, self);
  g_clear_object (&self->download);
  if (self->game != NULL)
    g_signal_handlers_disconnect_by_data (self->game, self);
  if (self->engine != NULL)
    {
      g_signal_handlers_disconnect_by_data (lsp_engine_get_downloads (self->engine), self);
      g_signal_handlers_disconnect_by_data (lsp_engine_get_installer (self->engine), self);
      g_signal_handlers_disconnect_by_data (lsp_engine_get_library (self->engine), self);
    }
  g_clear_object (&self->game);
  g_clear_object (&self->engine);
}

LspLanGame *
lsp_game_details_get_game (LspGameDetails *self)
{
  g_return_val_if_fail (LSP_IS_GAME_DETAILS (self), NULL);
  return self->game;
}

static AdwActionRow *
info_row (GtkWidget  *group,
          const char *title)
{
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
  return ADW_ACTION_ROW (row);
}

static void
lsp_game_details_dispose (GObject *object)
{
  LspGameDetails *self = LSP_GAME_DETAILS (object);

  lsp_game_details_clear (self);
  g_clear_pointer (&self->scroller, gtk_widget_unparent);
  g_clear_pointer (&self->source_rows, g_ptr_array_unref);

  G_OBJECT_CLASS (lsp_game_details_parent_class)->dispose (object);
}

static void
lsp_game_details_class_init (LspGameDetailsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = lsp_game_details_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
lsp_game_details_init (LspGameDetails *self)
{
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *about = adw_preferences_group_new ();
  GtkWidget *facts = adw_preferences_group_new ();

  self->source_rows = g_ptr_array_new ();
  self->card = lsp_game_card_new ();
  gtk_widget_set_halign (self->card, GTK_ALIGN_CENTER);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (about), self->card);
  self->description = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->description, TRUE);
  gtk_label_set_justify (self->description, GTK_JUSTIFY_CENTER);
  gtk_widget_set_margin_top (GTK_WIDGET (self->description), 12);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (about), GTK_WIDGET (self->description));

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (facts), _("About the Game"));
  self->genre_row = info_row (facts, _("Genre"));
  self->players_row = info_row (facts, _("Players"));
  self->local_row = info_row (facts, _("Your Version"));
  self->newest_row = info_row (facts, _("Newest on the LAN"));
  self->size_row = info_row (facts, _("Size"));
  self->files_row = info_row (facts, _("Files"));

  self->sources_group = adw_preferences_group_new ();
  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (self->sources_group), _("Players Who Have It"));

  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (about));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (facts));
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (self->sources_group));
  self->scroller = page;
  gtk_widget_set_parent (page, GTK_WIDGET (self));
}

GtkWidget *
lsp_game_details_new (void)
{
  return g_object_new (LSP_TYPE_GAME_DETAILS, NULL);
}
