#define G_LOG_DOMAIN "lsp-lan-game"

#include "config.h"

#include "lsp-lan-game-private.h"

struct _LspLanGame
{
  GObject          parent_instance;

  char            *id;
  char            *name;
  LspLanGameState  state;
  char            *local_version;
  char            *newest_version;
  guint64          size;
  gboolean         update_available;
  GStrv            sources;
};

G_DEFINE_FINAL_TYPE (LspLanGame, lsp_lan_game, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (LspLanGameState, lsp_lan_game_state,
                    G_DEFINE_ENUM_VALUE (LSP_LAN_GAME_REMOTE, "remote"),
                    G_DEFINE_ENUM_VALUE (LSP_LAN_GAME_DOWNLOADED, "downloaded"),
                    G_DEFINE_ENUM_VALUE (LSP_LAN_GAME_INSTALLED, "installed"))

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_STATE,
  PROP_LOCAL_VERSION,
  PROP_NEWEST_VERSION,
  PROP_SIZE,
  PROP_UPDATE_AVAILABLE,
  PROP_N_SOURCES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
lsp_lan_game_finalize (GObject *object)
{
  LspLanGame *self = LSP_LAN_GAME (object);

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->local_version, g_free);
  g_clear_pointer (&self->newest_version, g_free);
  g_clear_pointer (&self->sources, g_strfreev);

  G_OBJECT_CLASS (lsp_lan_game_parent_class)->finalize (object);
}

static void
lsp_lan_game_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  LspLanGame *self = LSP_LAN_GAME (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_LOCAL_VERSION:
      g_value_set_string (value, self->local_version);
      break;
    case PROP_NEWEST_VERSION:
      g_value_set_string (value, self->newest_version);
      break;
    case PROP_SIZE:
      g_value_set_uint64 (value, self->size);
      break;
    case PROP_UPDATE_AVAILABLE:
      g_value_set_boolean (value, self->update_available);
      break;
    case PROP_N_SOURCES:
      g_value_set_uint (value, self->sources ? g_strv_length (self->sources) : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_lan_game_class_init (LspLanGameClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = lsp_lan_game_finalize;
  object_class->get_property = lsp_lan_game_get_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, LSP_TYPE_LAN_GAME_STATE,
                                              LSP_LAN_GAME_REMOTE, flags);
  properties[PROP_LOCAL_VERSION] = g_param_spec_string ("local-version", NULL, NULL, NULL, flags);
  properties[PROP_NEWEST_VERSION] = g_param_spec_string ("newest-version", NULL, NULL, NULL, flags);
  properties[PROP_SIZE] = g_param_spec_uint64 ("size", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  properties[PROP_UPDATE_AVAILABLE] = g_param_spec_boolean ("update-available", NULL, NULL, FALSE, flags);
  properties[PROP_N_SOURCES] = g_param_spec_uint ("n-sources", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lsp_lan_game_init (LspLanGame *self)
{
}

LspLanGame *
_lsp_lan_game_new (const char *id)
{
  LspLanGame *self = g_object_new (LSP_TYPE_LAN_GAME, NULL);

  self->id = g_strdup (id);
  return self;
}

static void
update_string (LspLanGame  *self,
               char       **field,
               const char  *value,
               guint        prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
_lsp_lan_game_apply (LspLanGame            *self,
                     const LspLanGameFacts *facts)
{
  guint old_sources = self->sources ? g_strv_length (self->sources) : 0;

  g_object_freeze_notify (G_OBJECT (self));
  update_string (self, &self->name, facts->name, PROP_NAME);
  update_string (self, &self->local_version, facts->local_version, PROP_LOCAL_VERSION);
  update_string (self, &self->newest_version, facts->newest_version, PROP_NEWEST_VERSION);
  if (self->state != facts->state)
    {
      self->state = facts->state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
  if (self->size != facts->size)
    {
      self->size = facts->size;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SIZE]);
    }
  if (self->update_available != facts->update_available)
    {
      self->update_available = facts->update_available;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UPDATE_AVAILABLE]);
    }
  g_strfreev (self->sources);
  self->sources = g_strdupv (facts->sources);
  if (old_sources != g_strv_length (self->sources))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SOURCES]);
  g_object_thaw_notify (G_OBJECT (self));
}

#define DEFINE_GETTER(type, name, expr) \
  type lsp_lan_game_get_##name (LspLanGame *self) \
  { \
    g_return_val_if_fail (LSP_IS_LAN_GAME (self), 0); \
    return expr; \
  }

DEFINE_GETTER (const char *, id, self->id)
DEFINE_GETTER (const char *, name, self->name)
DEFINE_GETTER (LspLanGameState, state, self->state)
DEFINE_GETTER (const char *, local_version, self->local_version)
DEFINE_GETTER (const char *, newest_version, self->newest_version)
DEFINE_GETTER (guint64, size, self->size)
DEFINE_GETTER (gboolean, update_available, self->update_available)
DEFINE_GETTER (const char * const *, sources, (const char * const *) self->sources)
DEFINE_GETTER (guint, n_sources, self->sources ? g_strv_length (self->sources) : 0)
