#define G_LOG_DOMAIN "lsp-operation"

#include "config.h"

#include "lsp-operation.h"

#include "lsp-operation-private.h"

struct _LspOperation
{
  GObject           parent_instance;

  char             *game_id;
  LspOperationKind  kind;
  GCancellable     *cancellable;
  GCancellable     *caller_cancellable;
  gulong            caller_handler;
  guint64           bytes_done;
  guint64           bytes_total;
  guint64           entries_done;
  gboolean          active;
};

G_DEFINE_FINAL_TYPE (LspOperation, lsp_operation, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (LspOperationKind, lsp_operation_kind,
                    G_DEFINE_ENUM_VALUE (LSP_OPERATION_INSTALL, "install"),
                    G_DEFINE_ENUM_VALUE (LSP_OPERATION_UPDATE, "update"),
                    G_DEFINE_ENUM_VALUE (LSP_OPERATION_UNINSTALL, "uninstall"),
                    G_DEFINE_ENUM_VALUE (LSP_OPERATION_VERIFY, "verify"),
                    G_DEFINE_ENUM_VALUE (LSP_OPERATION_REPAIR, "repair"))

enum {
  PROP_0,
  PROP_GAME_ID,
  PROP_KIND,
  PROP_BYTES_DONE,
  PROP_BYTES_TOTAL,
  PROP_ENTRIES_DONE,
  PROP_ACTIVE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char *
lsp_operation_kind_to_string (LspOperationKind kind)
{
  switch (kind)
    {
    case LSP_OPERATION_INSTALL:
      return "install";
    case LSP_OPERATION_UPDATE:
      return "update";
    case LSP_OPERATION_UNINSTALL:
      return "uninstall";
    case LSP_OPERATION_VERIFY:
      return "verify";
    case LSP_OPERATION_REPAIR:
      return "repair";
    default:
      return "unknown";
    }
}

static void
lsp_operation_dispose (GObject *object)
{
  LspOperation *self = LSP_OPERATION (object);

  if (self->caller_cancellable != NULL)
    g_cancellable_disconnect (self->caller_cancellable, self->caller_handler);
  self->caller_handler = 0;
  g_clear_object (&self->caller_cancellable);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (lsp_operation_parent_class)->dispose (object);
}

static void
lsp_operation_finalize (GObject *object)
{
  LspOperation *self = LSP_OPERATION (object);

  g_clear_pointer (&self->game_id, g_free);

  G_OBJECT_CLASS (lsp_operation_parent_class)->finalize (object);
}

static void
lsp_operation_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  LspOperation *self = LSP_OPERATION (object);

  switch (prop_id)
    {
    case PROP_GAME_ID:
      g_value_set_string (value, self->game_id);
      break;
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_BYTES_DONE:
      g_value_set_uint64 (value, self->bytes_done);
      break;
    case PROP_BYTES_TOTAL:
      g_value_set_uint64 (value, self->bytes_total);
      break;
    case PROP_ENTRIES_DONE:
      g_value_set_uint64 (value, self->entries_done);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, self->active);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_operation_class_init (LspOperationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lsp_operation_dispose;
  object_class->finalize = lsp_operation_finalize;
  object_class->get_property = lsp_operation_get_property;

  properties[PROP_GAME_ID] =
    g_param_spec_string ("game-id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL, LSP_TYPE_OPERATION_KIND, LSP_OPERATION_INSTALL,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /* 0 while the total is unknown (compressed archives). */
  properties[PROP_BYTES_TOTAL] =
    g_param_spec_uint64 ("bytes-total", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_BYTES_DONE] =
    g_param_spec_uint64 ("bytes-done", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_ENTRIES_DONE] =
    g_param_spec_uint64 ("entries-done", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_ACTIVE] =
    g_param_spec_boolean ("active", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lsp_operation_init (LspOperation *self)
{
}

static void
on_caller_cancelled (GCancellable *caller,
                     GCancellable *own)
{
  g_cancellable_cancel (own);
}

LspOperation *
_lsp_operation_new (const char       *game_id,
                    LspOperationKind  kind,
                    GCancellable     *cancellable)
{
  LspOperation *self = g_object_new (LSP_TYPE_OPERATION, NULL);

  self->game_id = g_strdup (game_id);
  self->kind = kind;
  /* Its own cancellable, following the caller's: cancelling one operation
   * must not cancel others started with the same cancellable. */
  self->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      self->caller_cancellable = g_object_ref (cancellable);
      self->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled),
                                                    g_object_ref (self->cancellable), g_object_unref);
    }
  self->active = TRUE;
  return self;
}

void
_lsp_operation_set_progress (LspOperation *self,
                             guint64       bytes_done,
                             guint64       bytes_total,
                             guint64       entries_done)
{
  g_object_freeze_notify (G_OBJECT (self));
  if (self->bytes_total != bytes_total)
    {
      self->bytes_total = bytes_total;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_TOTAL]);
    }
  if (self->entries_done != entries_done)
    {
      self->entries_done = entries_done;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENTRIES_DONE]);
    }
  if (self->bytes_done != bytes_done)
    {
      self->bytes_done = bytes_done;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_DONE]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

void
_lsp_operation_set_finished (LspOperation *self)
{
  if (!self->active)
    return;
  self->active = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
}

const char *
lsp_operation_get_game_id (LspOperation *self)
{
  g_return_val_if_fail (LSP_IS_OPERATION (self), NULL);
  return self->game_id;
}

LspOperationKind
lsp_operation_get_kind (LspOperation *self)
{
  g_return_val_if_fail (LSP_IS_OPERATION (self), LSP_OPERATION_INSTALL);
  return self->kind;
}

guint64
lsp_operation_get_bytes_done (LspOperation *self)
{
  g_return_val_if_fail (LSP_IS_OPERATION (self), 0);
  return self->bytes_done;
}

guint64
lsp_operation_get_bytes_total (LspOperation *self)
{
  g_return_val_if_fail (LSP_IS_OPERATION (self), 0);
  return self->bytes_total;
}

guint64
lsp_operation_get_entries_done (LspOperation *self)
{
  g_return_val_if_fail (LSP_IS_OPERATION (self), 0);
  return self->entries_done;
}

gboolean
lsp_operation_get_active (LspOperation *self)
{
  g_return_val_if_fail (LSP_IS_OPERATION (self), FALSE);
  return self->active;
}

GCancellable *
lsp_operation_get_cancellable (LspOperation *self)
{
  g_return_val_if_fail (LSP_IS_OPERATION (self), NULL);
  return self->cancellable;
}

/* Install and update roll back when cancelled; an uninstall past its commit
 * point finishes regardless. */
void
lsp_operation_cancel (LspOperation *self)
{
  g_return_if_fail (LSP_IS_OPERATION (self));
  g_cancellable_cancel (self->cancellable);
}
