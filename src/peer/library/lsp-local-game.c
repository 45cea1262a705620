#define G_LOG_DOMAIN "lsp-local-game"

#include "config.h"

#include "lsp-local-game-private.h"

struct _LspLocalGame
{
  GObject        parent_instance;

  char          *id;
  char          *name;
  char          *description;
  char          *genre;
  guint          max_players;
  LspGameRecord *record;
  gboolean       busy;
};

G_DEFINE_FINAL_TYPE (LspLocalGame, lsp_local_game, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_DESCRIPTION,
  PROP_GENRE,
  PROP_MAX_PLAYERS,
  PROP_VERSION,
  PROP_INSTALLED_VERSION,
  PROP_SIZE,
  PROP_DOWNLOADED,
  PROP_INSTALLED,
  PROP_MANIFEST_HASH,
  PROP_ERROR,
  PROP_BUSY,
  PROP_DAMAGED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
lsp_local_game_finalize (GObject *object)
{
  LspLocalGame *self = LSP_LOCAL_GAME (object);

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->description, g_free);
  g_clear_pointer (&self->genre, g_free);
  g_clear_pointer (&self->record, lsp_game_record_unref);

  G_OBJECT_CLASS (lsp_local_game_parent_class)->finalize (object);
}

static void
lsp_local_game_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  LspLocalGame *self = LSP_LOCAL_GAME (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    case PROP_GENRE:
      g_value_set_string (value, self->genre);
      break;
    case PROP_MAX_PLAYERS:
      g_value_set_uint (value, self->max_players);
      break;
    case PROP_VERSION:
      g_value_set_string (value, self->record->version);
      break;
    case PROP_INSTALLED_VERSION:
      g_value_set_string (value, self->record->installed_version);
      break;
    case PROP_SIZE:
      g_value_set_uint64 (value, self->record->size);
      break;
    case PROP_DOWNLOADED:
      g_value_set_boolean (value, self->record->downloaded);
      break;
    case PROP_INSTALLED:
      g_value_set_boolean (value, self->record->installed);
      break;
    case PROP_MANIFEST_HASH:
      g_value_set_string (value, self->record->manifest_hash);
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->record->error);
      break;
    case PROP_DAMAGED:
      g_value_set_boolean (value, self->record->damaged);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
string_property (const char *name)
{
  return g_param_spec_string (name, NULL, NULL, NULL,
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
}

static GParamSpec *
boolean_property (const char *name)
{
  return g_param_spec_boolean (name, NULL, NULL, FALSE,
                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
}

static void
lsp_local_game_class_init (LspLocalGameClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = lsp_local_game_finalize;
  object_class->get_property = lsp_local_game_get_property;

  properties[PROP_ID] = string_property ("id");
  properties[PROP_NAME] = string_property ("name");
  properties[PROP_DESCRIPTION] = string_property ("description");
  properties[PROP_GENRE] = string_property ("genre");
  properties[PROP_MAX_PLAYERS] =
    g_param_spec_uint ("max-players", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_VERSION] = string_property ("version");
  properties[PROP_INSTALLED_VERSION] = string_property ("installed-version");
  properties[PROP_SIZE] =
    g_param_spec_uint64 ("size", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_DOWNLOADED] = boolean_property ("downloaded");
  properties[PROP_INSTALLED] = boolean_property ("installed");
  properties[PROP_MANIFEST_HASH] = string_property ("manifest-hash");
  properties[PROP_ERROR] = string_property ("error");
  properties[PROP_BUSY] = boolean_property ("busy");
  /* Downloaded, but a verify found files that no longer match the
   * manifest: not served until it is repaired. */
  properties[PROP_DAMAGED] = boolean_property ("damaged");

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lsp_local_game_init (LspLocalGame *self)
{
}

LspLocalGame *
_lsp_local_game_new (const LspCatalogEntry *entry,
                     LspGameRecord         *record)
{
  LspLocalGame *self = g_object_new (LSP_TYPE_LOCAL_GAME, NULL);

  self->id = g_strdup (entry->id);
  self->name = g_strdup (entry->name);
  self->description = g_strdup (entry->description);
  self->genre = g_strdup (entry->genre);
  self->max_players = entry->max_players;
  self->record = lsp_game_record_ref (record);

  return self;
}

void
_lsp_local_game_set_record (LspLocalGame  *self,
                            LspGameRecord *record)
{
  g_autoptr(LspGameRecord) old = NULL;

  g_return_if_fail (LSP_IS_LOCAL_GAME (self));

  if (self->record == record)
    return;

  old = g_steal_pointer (&self->record);
  self->record = lsp_game_record_ref (record);

  g_object_freeze_notify (G_OBJECT (self));
  if (g_strcmp0 (old->version, record->version) != 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VERSION]);
  if (g_strcmp0 (old->installed_version, record->installed_version) != 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INSTALLED_VERSION]);
  if (old->size != record->size)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
  if (old->downloaded != record->downloaded)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DOWNLOADED]);
  if (old->installed != record->installed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INSTALLED]);
  if (g_strcmp0 (old->manifest_hash, record->manifest_hash) != 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MANIFEST_HASH]);
  if (g_strcmp0 (old->error, record->error) != 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
  if (old->damaged != record->damaged)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DAMAGED]);
  g_object_thaw_notify (G_OBJECT (self));
}

void
_lsp_local_game_set_busy (LspLocalGame *self,
                          gboolean      busy)
{
  g_return_if_fail (LSP_IS_LOCAL_GAME (self));

  busy = !!busy;
  if (self->busy == busy)
    return;
  self->busy = busy;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

#define DEFINE_GETTER(type, name, expr) \
  type lsp_local_game_get_##name (LspLocalGame *self) \
  { \
    g_return_val_if_fail (LSP_IS_LOCAL_GAME (self), 0); \
    return expr; \
  }

DEFINE_GETTER (const char *, id, self->id)
DEFINE_GETTER (const char *, name, self->name)
DEFINE_GETTER (const char *, description, self->description)
DEFINE_GETTER (const char *, genre, self->genre)
DEFINE_GETTER (guint, max_players, self->max_players)
DEFINE_GETTER (const char *, version, self->record->version)
DEFINE_GETTER (const char *, installed_version, self->record->installed_version)
DEFINE_GETTER (guint64, size, self->record->size)
DEFINE_GETTER (gboolean, downloaded, self->record->downloaded)
DEFINE_GETTER (gboolean, installed, self->record->installed)
DEFINE_GETTER (gboolean, damaged, self->record->damaged)

/* The manifest the payload must match: while damaged, the one the verify
 * judged it against, whatever the damaged files hash to now. */
const char *
lsp_local_game_get_reference_hash (LspLocalGame *self)
{
  g_return_val_if_fail (LSP_IS_LOCAL_GAME (self), NULL);
  return self->record->damaged ? self->record->damaged_hash : self->record->manifest_hash;
}
DEFINE_GETTER (const char *, manifest_hash, self->record->manifest_hash)
DEFINE_GETTER (const char *, error, self->record->error)
DEFINE_GETTER (gboolean, busy, self->busy)
