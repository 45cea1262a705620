#define G_LOG_DOMAIN "lsp-known-peers"

#include "config.h"

#include "lsp-known-peers.h"

#include "lsp-identity.h"

/* The file is a GKeyFile: one group per peer_id with the keys
 * "first-seen" and "last-seen" (Unix seconds) and "address". */
struct _LspKnownPeers
{
  GObject   parent_instance;

  char     *path;
  GKeyFile *keyfile;
};

G_DEFINE_FINAL_TYPE (LspKnownPeers, lsp_known_peers, G_TYPE_OBJECT)

static void
lsp_known_peers_finalize (GObject *object)
{
  LspKnownPeers *self = LSP_KNOWN_PEERS (object);

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->keyfile, g_key_file_unref);

  G_OBJECT_CLASS (lsp_known_peers_parent_class)->finalize (object);
}

static void
lsp_known_peers_class_init (LspKnownPeersClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = lsp_known_peers_finalize;
}

static void
lsp_known_peers_init (LspKnownPeers *self)
{
  self->keyfile = g_key_file_new ();
}

/* A missing or unreadable file is an empty store: losing it only means
 * peers are trusted on first use again. */
LspKnownPeers *
lsp_known_peers_new (const char *path)
{
  LspKnownPeers *self;
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (LSP_TYPE_KNOWN_PEERS, NULL);
  self->path = g_strdup (path);
  if (!g_key_file_load_from_file (self->keyfile, path, G_KEY_FILE_NONE, &error) &&
      !g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_warning ("Ignoring the known-peers file “%s”: %s", path, error->message);

  return self;
}

gboolean
lsp_known_peers_contains (LspKnownPeers *self,
                          const char    *peer_id)
{
  g_return_val_if_fail (LSP_IS_KNOWN_PEERS (self), FALSE);
  return peer_id != NULL && g_key_file_has_group (self->keyfile, peer_id);
}

guint
lsp_known_peers_get_size (LspKnownPeers *self)
{
  gsize n = 0;

  g_return_val_if_fail (LSP_IS_KNOWN_PEERS (self), 0);
  g_strfreev (g_key_file_get_groups (self->keyfile, &n));
  return (guint) n;
}

static void
drop_oldest (LspKnownPeers *self)
{
  gsize n = 0;
  g_auto(GStrv) groups = g_key_file_get_groups (self->keyfile, &n);
  const char *oldest = NULL;
  gint64 oldest_ts = G_MAXINT64;

  for (gsize i = 0; i < n; i++)
    {
      gint64 ts = g_key_file_get_int64 (self->keyfile, groups[i], "last-seen", NULL);
      if (ts < oldest_ts)
        {
          oldest_ts = ts;
          oldest = groups[i];
        }
    }
  if (oldest != NULL)
    g_key_file_remove_group (self->keyfile, oldest, NULL);
}

/**
 * lsp_known_peers_record:
 *
 * Records that @peer_id was authenticated at @address now, and saves the
 * store (mode 0600).
 */
gboolean
lsp_known_peers_record (LspKnownPeers  *self,
                        const char     *peer_id,
                        const char     *address,
                        GError        **error)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_return_val_if_fail (LSP_IS_KNOWN_PEERS (self), FALSE);
  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), FALSE);

  if (!g_key_file_has_group (self->keyfile, peer_id))
    {
      if (lsp_known_peers_get_size (self) >= LSP_KNOWN_PEERS_MAX)
        drop_oldest (self);
      g_key_file_set_int64 (self->keyfile, peer_id, "first-seen", now);
    }
  g_key_file_set_int64 (self->keyfile, peer_id, "last-seen", now);
  if (address != NULL)
    g_key_file_set_string (self->keyfile, peer_id, "address", address);

  {
    gsize length = 0;
    g_autofree char *data = g_key_file_to_data (self->keyfile, &length, NULL);

    return g_file_set_contents_full (self->path, data, (gssize) length,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
  }
}
