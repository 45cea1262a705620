#define G_LOG_DOMAIN "lsp-known-peers"

#include "config.h"

#include "lsp-known-peers.h"

#include "lsp-identity.h"

#include <gio/gio.h>

/* The file is a GKeyFile: one group per peer_id with the keys
 * "first-seen" and "last-seen" (Unix seconds) and "address"; once a
 * session got past Hello, "hostname" (the name it gave), and for a peer
 * we dialled at a fixed address (--peer), "dialled-at" ("host:port"):
 * the pin that address is held to. */

/* Shared by the store and the workers that write its file: writes happen
 * one at a time, and a snapshot older than the one on disk is skipped, so
 * a flush at shutdown cannot be overwritten by a slower worker. */
typedef struct
{
  char    *path;
  GMutex   lock;
  guint64  written;   /* generation of the snapshot on disk */
} Writer;

typedef struct
{
  Writer  *writer;
  guint64  generation;
  char    *data;
  gsize    length;
} Snapshot;

struct _LspKnownPeers
{
  GObject     parent_instance;

  Writer     *writer;
  GKeyFile   *keyfile;
  GHashTable *earlier_addresses;  /* where peers were authenticated before this run */
  guint64     generation;  /* of the newest change */
  guint64     saved;       /* generation of the newest snapshot taken */
  guint       save_id;
  gboolean    writing;
};

G_DEFINE_FINAL_TYPE (LspKnownPeers, lsp_known_peers, G_TYPE_OBJECT)

static void
writer_clear (Writer *writer)
{
  g_free (writer->path);
  g_mutex_clear (&writer->lock);
}

static void
writer_unref (Writer *writer)
{
  g_atomic_rc_box_release_full (writer, (GDestroyNotify) writer_clear);
}

static void
snapshot_free (Snapshot *snapshot)
{
  writer_unref (snapshot->writer);
  g_free (snapshot->data);
  g_free (snapshot);
}

static Snapshot *
take_snapshot (LspKnownPeers *self)
{
  Snapshot *snapshot = g_new0 (Snapshot, 1);

  snapshot->writer = g_atomic_rc_box_acquire (self->writer);
  snapshot->generation = self->generation;
  snapshot->data = g_key_file_to_data (self->keyfile, &snapshot->length, NULL);
  self->saved = self->generation;
  return snapshot;
}

static gboolean
snapshot_write (Snapshot  *snapshot,
                GError   **error)
{
  Writer *writer = snapshot->writer;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&writer->lock);

  if (snapshot->generation <= writer->written)
    return TRUE;
  if (!g_file_set_contents_full (writer->path, snapshot->data, (gssize) snapshot->length,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    return FALSE;
  writer->written = snapshot->generation;
  return TRUE;
}

static void
save_worker (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;

  if (snapshot_write (task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void schedule_save (LspKnownPeers *self);

/* A state folder removed under a running peer (its identity lives there
 * too) leaves nothing to save into: that is not worth a warning each time. */
static void
report_save_error (LspKnownPeers *self,
                   const GError  *error)
{
  if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_debug ("Not saving the known peers: %s", error->message);
  else
    g_warning ("Could not save the known peers to “%s”: %s", self->writer->path, error->message);
}

static void
on_saved (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  LspKnownPeers *self = LSP_KNOWN_PEERS (object);
  g_autoptr(GError) error = NULL;

  self->writing = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    report_save_error (self, error);
  if (self->saved < self->generation)
    schedule_save (self);
}

static gboolean
start_save (gpointer user_data)
{
  LspKnownPeers *self = user_data;
  g_autoptr(GTask) task = g_task_new (self, NULL, on_saved, NULL);

  self->save_id = 0;
  self->writing = TRUE;
  g_task_set_source_tag (task, start_save);
  g_task_set_task_data (task, take_snapshot (self), (GDestroyNotify) snapshot_free);
  g_task_run_in_thread (task, save_worker);
  return G_SOURCE_REMOVE;
}

/* Handshakes come in bursts; a burst is one write, off the main loop, and
 * changes made during a write go out with the next one. */
static void
schedule_save (LspKnownPeers *self)
{
  if (self->save_id != 0 || self->writing)
    return;
  self->save_id = g_idle_add (start_save, self);
}

/**
 * lsp_known_peers_flush:
 *
 * Writes what is not saved yet, now: for shutdown, when the main loop may
 * not run again.
 */
void
lsp_known_peers_flush (LspKnownPeers *self)
{
  g_autoptr(GError) error = NULL;
  Snapshot *snapshot;

  g_return_if_fail (LSP_IS_KNOWN_PEERS (self));

  g_clear_handle_id (&self->save_id, g_source_remove);
  if (self->saved == self->generation)
    return;
  snapshot = take_snapshot (self);
  if (!snapshot_write (snapshot, &error))
    report_save_error (self, error);
  snapshot_free (snapshot);
}

static void
lsp_known_peers_finalize (GObject *object)
{
  LspKnownPeers *self = LSP_KNOWN_PEERS (object);

  lsp_known_peers_flush (self);
  g_clear_pointer (&self->writer, writer_unref);
  g_clear_pointer (&self->keyfile, g_key_file_unref);
  g_clear_pointer (&self->earlier_addresses, g_hash_table_unref);

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
  self->earlier_addresses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

static void
remember_earlier_addresses (LspKnownPeers *self)
{
  gsize n = 0;
  g_auto(GStrv) groups = g_key_file_get_groups (self->keyfile, &n);

  for (gsize i = 0; i < n; i++)
    {
      char *address = g_key_file_get_string (self->keyfile, groups[i], "address", NULL);
      if (address != NULL)
        g_hash_table_add (self->earlier_addresses, address);
    }
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
  self->writer = g_atomic_rc_box_new0 (Writer);
  self->writer->path = g_strdup (path);
  g_mutex_init (&self->writer->lock);
  if (!g_key_file_load_from_file (self->keyfile, path, G_KEY_FILE_NONE, &error) &&
      !g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_warning ("Ignoring the known-peers file “%s”: %s", path, error->message);
  remember_earlier_addresses (self);

  return self;
}

gboolean
lsp_known_peers_contains (LspKnownPeers *self,
                          const char    *peer_id)
{
  g_return_val_if_fail (LSP_IS_KNOWN_PEERS (self), FALSE);
  return peer_id != NULL && g_key_file_has_group (self->keyfile, peer_id);
}

/**
 * lsp_known_peers_knew_address:
 *
 * Returns: whether a peer was authenticated at @address (an IP address as
 * g_inet_address_to_string() writes it) in an earlier run. Addresses met
 * in this run do not count, so an attacker cannot become “known” by
 * completing one handshake before it floods.
 */
gboolean
lsp_known_peers_knew_address (LspKnownPeers *self,
                              const char    *address)
{
  g_return_val_if_fail (LSP_IS_KNOWN_PEERS (self), FALSE);
  return address != NULL && g_hash_table_contains (self->earlier_addresses, address);
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
 * Records that @peer_id was authenticated at @address now. The store is
 * saved (mode 0600) soon after, off the main loop.
 */
void
lsp_known_peers_record (LspKnownPeers  *self,
                        const char     *peer_id,
                        const char     *address)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_return_if_fail (LSP_IS_KNOWN_PEERS (self));
  g_return_if_fail (lsp_peer_id_is_valid (peer_id));

  if (!g_key_file_has_group (self->keyfile, peer_id))
    {
      if (lsp_known_peers_get_size (self) >= LSP_KNOWN_PEERS_MAX)
        drop_oldest (self);
      g_key_file_set_int64 (self->keyfile, peer_id, "first-seen", now);
    }
  g_key_file_set_int64 (self->keyfile, peer_id, "last-seen", now);
  if (address != NULL)
    g_key_file_set_string (self->keyfile, peer_id, "address", address);
  self->generation++;
  schedule_save (self);
}

/**
 * lsp_known_peers_note_session:
 * @dialled_at: (nullable): the "host:port" we dialled it at, for a
 *   static peer: from now on that address is pinned to @peer_id
 *
 * Records the name a peer gave once its session is up.
 */
void
lsp_known_peers_note_session (LspKnownPeers *self,
                              const char    *peer_id,
                              const char    *hostname,
                              const char    *dialled_at)
{
  g_return_if_fail (LSP_IS_KNOWN_PEERS (self));
  g_return_if_fail (lsp_peer_id_is_valid (peer_id));
  g_return_if_fail (hostname != NULL);

  if (!g_key_file_has_group (self->keyfile, peer_id))
    lsp_known_peers_record (self, peer_id, NULL);
  g_key_file_set_string (self->keyfile, peer_id, "hostname", hostname);
  if (dialled_at != NULL)
    {
      /* One address, one pin. */
      lsp_known_peers_unpin (self, dialled_at);
      g_key_file_set_string (self->keyfile, peer_id, "dialled-at", dialled_at);
    }
  self->generation++;
  schedule_save (self);
}

/* Returns: (nullable): the name @peer_id gave in a session before, or
 * NULL when we never got that far with it. */
char *
lsp_known_peers_dup_hostname (LspKnownPeers *self,
                              const char    *peer_id)
{
  g_return_val_if_fail (LSP_IS_KNOWN_PEERS (self), NULL);
  g_return_val_if_fail (peer_id != NULL, NULL);

  return g_key_file_get_string (self->keyfile, peer_id, "hostname", NULL);
}

/* Returns: (nullable): the peer_id that @dialled_at is pinned to. */
char *
lsp_known_peers_dup_pinned (LspKnownPeers *self,
                            const char    *dialled_at)
{
  g_auto(GStrv) groups = NULL;

  g_return_val_if_fail (LSP_IS_KNOWN_PEERS (self), NULL);
  g_return_val_if_fail (dialled_at != NULL, NULL);

  groups = g_key_file_get_groups (self->keyfile, NULL);
  for (gsize i = 0; groups[i] != NULL; i++)
    {
      g_autofree char *pinned = g_key_file_get_string (self->keyfile, groups[i], "dialled-at", NULL);

      if (g_strcmp0 (pinned, dialled_at) == 0 && lsp_peer_id_is_valid (groups[i]))
        return g_strdup (groups[i]);
    }
  return NULL;
}

/* The user accepts that another peer answers at @dialled_at now. */
void
lsp_known_peers_unpin (LspKnownPeers *self,
                       const char    *dialled_at)
{
  g_auto(GStrv) groups = NULL;
  gboolean changed = FALSE;

  g_return_if_fail (LSP_IS_KNOWN_PEERS (self));
  g_return_if_fail (dialled_at != NULL);

  groups = g_key_file_get_groups (self->keyfile, NULL);
  for (gsize i = 0; groups[i] != NULL; i++)
    {
      g_autofree char *pinned = g_key_file_get_string (self->keyfile, groups[i], "dialled-at", NULL);

      if (g_strcmp0 (pinned, dialled_at) == 0)
        changed |= g_key_file_remove_key (self->keyfile, groups[i], "dialled-at", NULL);
    }
  if (changed)
    {
      self->generation++;
      schedule_save (self);
    }
}
