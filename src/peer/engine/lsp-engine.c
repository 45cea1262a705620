#define G_LOG_DOMAIN "lsp-engine"

#include "config.h"

#include "lsp-engine.h"

#include "lsp-catalog.h"
#include "lsp-install-recovery.h"
#include "lsp-party-key.h"
#include "lsp-proto.h"

#include <glib/gi18n-lib.h>

/* The start-up chain, in this order: the catalog (read off the main loop),
 * recovery of interrupted transactions, the library's first scan, our
 * identity (read or created off the main loop) and, with the same worker,
 * the key of the party's passphrase if it has one (a slow KDF), then the node: listen,
 * dial static peers, announce and browse with mDNS. Joining the LAN only
 * once our library is known means the first thing peers hear is complete. */

struct _LspEngine
{
  GObject        parent_instance;

  GFile         *games_dir;
  GFile         *catalog_file;
  char          *state_dir;
  char          *hostname;
  guint16        port;
  char          *listen_address;
  GStrv          static_peers;
  gboolean       use_mdns;
  guint          stale_seconds;
  guint          upload_slots;
  guint          upload_slots_per_peer;
  guint64        upload_rate;
  guint          max_downloads;
  guint          wait_seconds;
  guint64        download_rate;
  char          *passphrase;
  char          *passphrase_file;
  gboolean       no_swarm;

  LspLibrary    *library;
  LspLauncher   *launcher;
  LspInstaller  *installer;
  LspNode       *node;
  LspLanLibrary *lan_library;
  LspChunkServer *chunk_server;
  LspDownloadManager *downloads;
};

enum {
  PROP_0,
  PROP_LIBRARY,
  PROP_NODE,
  PROP_LAN_LIBRARY,
  N_PROPS
};

enum {
  WARNING,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (LspEngine, lsp_engine, G_TYPE_OBJECT)
G_DEFINE_QUARK (lsp-engine-error-quark, lsp_engine_error)

static void
fail (GTask              *task,
      LspEngineErrorCode  code,
      GError             *cause)
{
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_error (task, g_error_copy (cause));
  else
    g_task_return_new_error (task, LSP_ENGINE_ERROR, code, "%s", cause->message);
}

static void
warn (LspEngine  *self,
      const char *message)
{
  g_signal_emit (self, signals[WARNING], 0, message);
}

static void
on_resumed (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!lsp_download_manager_resume_finish (LSP_DOWNLOAD_MANAGER (object), result, &error))
    g_warning ("Could not look for interrupted downloads: %s", error->message);
}

/* Every address by default, so the LAN finds us whatever interface it is
 * on; one address when asked, and then nothing else reaches us. */
static gboolean
listen (LspEngine  *self,
        GError    **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) bind = NULL;

  if (self->listen_address == NULL)
    return lsp_node_start_any (self->node, self->port, error);

  inet = g_inet_address_new_from_string (self->listen_address);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not an IP address to listen on; give one of this machine's addresses, "
                     "such as 192.168.1.20"), self->listen_address);
      return FALSE;
    }
  bind = g_inet_socket_address_new (inet, self->port);
  return lsp_node_start (self->node, G_INET_SOCKET_ADDRESS (bind), error);
}

static void
join_lan (GTask       *task,
          LspIdentity *identity,
          GBytes      *party_key)
{
  LspEngine *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;

  self->node = lsp_node_new (self->library, identity, self->hostname);
  lsp_node_set_party_key (self->node, party_key);
  lsp_node_set_swarm (self->node, !self->no_swarm);
  if (self->stale_seconds > 0)
    lsp_node_set_liveness (self->node, MAX (self->stale_seconds * 1000 / 3, 1), self->stale_seconds * 1000);
  self->lan_library = lsp_lan_library_new (self->library, self->node);
  self->chunk_server = lsp_chunk_server_new (self->node, self->library);
  lsp_chunk_server_set_slots (self->chunk_server,
                              self->upload_slots > 0 ? self->upload_slots : LSP_CHUNK_SERVER_DEFAULT_SLOTS,
                              self->upload_slots_per_peer > 0 ? self->upload_slots_per_peer
                                                              : LSP_CHUNK_SERVER_DEFAULT_SLOTS_PER_PEER);
  lsp_chunk_server_set_rate_limit (self->chunk_server, self->upload_rate);
  self->downloads = lsp_download_manager_new (self->node, self->library);
  if (self->max_downloads > 0)
    lsp_download_manager_set_max_running (self->downloads, self->max_downloads);
  if (self->wait_seconds > 0)
    lsp_download_manager_set_wait_timeout (self->downloads, self->wait_seconds);
  lsp_download_manager_set_rate_limit (self->downloads, self->download_rate);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NODE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAN_LIBRARY]);

  if (!listen (self, &error))
    {
      fail (task, LSP_ENGINE_ERROR_NETWORK, error);
      return;
    }
  for (guint i = 0; self->static_peers[i] != NULL; i++)
    {
      g_autoptr(GError) peer_error = NULL;

      if (!lsp_node_add_peer_address (self->node, self->static_peers[i], &peer_error))
        warn (self, peer_error->message);
    }
  if (self->use_mdns && !lsp_node_enable_discovery (self->node, FALSE, &error))
    {
      g_autofree char *message =
        g_strdup_printf (_("%s; players added by address still work"), error->message);
      warn (self, message);
    }

  /* Downloads a crash interrupted go on; they wait for their sources. */
  lsp_download_manager_resume_async (self->downloads, NULL, on_resumed, NULL);
  g_task_return_boolean (task, TRUE);
}

/* What the network needs from disk and from slow work, made in one
 * worker: our identity, and the party key if there is a passphrase. */
typedef struct
{
  char          *state_dir;
  char          *passphrase;       /* given; or */
  char          *passphrase_file;  /* read here; absent: no passphrase */
} Credentials;

typedef struct
{
  LspIdentity *identity;
  GBytes      *party_key;
} Keys;

static void
credentials_free (Credentials *credentials)
{
  g_free (credentials->state_dir);
  lsp_party_passphrase_free (credentials->passphrase);
  g_free (credentials->passphrase_file);
  g_free (credentials);
}

static void
keys_free (Keys *keys)
{
  g_clear_object (&keys->identity);
  g_clear_pointer (&keys->party_key, g_bytes_unref);
  g_free (keys);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Keys, keys_free)

static void
load_keys_worker (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  Credentials *credentials = task_data;
  g_autoptr(Keys) keys = g_new0 (Keys, 1);
  g_autoptr(LspPassphrase) loaded = NULL;
  const char *passphrase = credentials->passphrase;
  GError *error = NULL;

  keys->identity = lsp_identity_load_or_create (credentials->state_dir, &error);
  if (keys->identity == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (passphrase == NULL && credentials->passphrase_file != NULL)
    {
      loaded = lsp_party_passphrase_load (credentials->passphrase_file, &error);
      if (loaded == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_task_return_error (task, error);
          return;
        }
      g_clear_error (&error);
      passphrase = loaded;
    }
  if (passphrase != NULL && (keys->party_key = lsp_party_key_derive (passphrase, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&keys), (GDestroyNotify) keys_free);
}

static void
on_keys_loaded (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(Keys) keys = g_task_propagate_pointer (G_TASK (result), &error);

  if (keys == NULL)
    fail (task, LSP_ENGINE_ERROR_NETWORK, error);
  else
    join_lan (task, keys->identity, keys->party_key);
}

static void
on_library_loaded (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LspEngine *self = g_task_get_source_object (task);
  g_autoptr(GTask) keys_task = NULL;
  Credentials *credentials;
  g_autoptr(GError) error = NULL;

  if (!lsp_library_load_finish (self->library, result, &error))
    {
      fail (task, LSP_ENGINE_ERROR_GAMES_FOLDER, error);
      return;
    }
  lsp_library_watch (self->library);

  credentials = g_new0 (Credentials, 1);
  credentials->state_dir = g_strdup (self->state_dir);
  credentials->passphrase = g_strdup (self->passphrase);
  credentials->passphrase_file = g_strdup (self->passphrase_file);
  keys_task = g_task_new (NULL, g_task_get_cancellable (task), on_keys_loaded, g_object_ref (task));
  g_task_set_source_tag (keys_task, load_keys_worker);
  g_task_set_task_data (keys_task, credentials, (GDestroyNotify) credentials_free);
  g_task_run_in_thread (keys_task, load_keys_worker);
}

/* Recovery fails as a whole only when the games folder cannot be read (a
 * game it cannot settle is logged and left as found), and then the library
 * cannot be read either: both front ends stop there. */
static void
on_recovered (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LspEngine *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;

  if (!lsp_install_recover_games_folder_finish (result, &error))
    {
      fail (task, LSP_ENGINE_ERROR_GAMES_FOLDER, error);
      return;
    }
  lsp_library_load_async (self->library, g_task_get_cancellable (task), on_library_loaded, g_object_ref (task));
}

static void
load_catalog_worker (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  GError *error = NULL;
  LspCatalog *catalog = lsp_catalog_new_from_file (task_data, cancellable, &error);

  if (catalog == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, catalog, g_object_unref);
}

static void
on_catalog_loaded (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LspEngine *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(LspCatalog) catalog = g_task_propagate_pointer (G_TASK (result), &error);

  if (catalog == NULL)
    {
      fail (task, LSP_ENGINE_ERROR_CATALOG, error);
      return;
    }

  self->library = lsp_library_new (self->games_dir, catalog);
  self->launcher = lsp_launcher_new (self->library);
  self->installer = lsp_installer_new (self->library, self->launcher);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIBRARY]);

  lsp_install_recover_games_folder_async (self->games_dir, g_task_get_cancellable (task),
                                          on_recovered, g_object_ref (task));
}

/**
 * lsp_engine_start_async:
 *
 * Runs the start-up chain. An error of %LSP_ENGINE_ERROR_CATALOG or
 * %LSP_ENGINE_ERROR_GAMES_FOLDER means nothing runs; after
 * %LSP_ENGINE_ERROR_NETWORK the library, installer and launcher work but
 * no peer is reached. Problems that leave the peer running (a static peer
 * address that cannot be parsed, mDNS unavailable) are #LspEngine::warning.
 */
void
lsp_engine_start_async (LspEngine           *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) catalog_task = NULL;

  g_return_if_fail (LSP_IS_ENGINE (self));
  g_return_if_fail (self->library == NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lsp_engine_start_async);

  catalog_task = g_task_new (NULL, cancellable, on_catalog_loaded, g_object_ref (task));
  g_task_set_source_tag (catalog_task, load_catalog_worker);
  g_task_set_task_data (catalog_task, g_object_ref (self->catalog_file), g_object_unref);
  g_task_run_in_thread (catalog_task, load_catalog_worker);
}

gboolean
lsp_engine_start_finish (LspEngine     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_node_stopped (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  lsp_node_stop_finish (LSP_NODE (object), result, NULL);
  g_task_return_boolean (task, TRUE);
}

static void
on_downloads_stopped (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  LspEngine *self = g_task_get_source_object (task);

  lsp_download_manager_stop_finish (LSP_DOWNLOAD_MANAGER (object), result, NULL);
  lsp_node_stop_async (self->node, g_task_get_task_data (task), on_node_stopped, g_object_ref (task));
}

/* Stops the downloads (they resume at the next start), then says Goodbye
 * to every peer; completes once the Goodbyes are on their way. */
void
lsp_engine_stop_async (LspEngine           *self,
                       const char          *reason,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LSP_IS_ENGINE (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, lsp_engine_stop_async);
  if (self->node == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_task_set_task_data (task, g_strdup (reason), g_free);
  lsp_download_manager_stop_async (self->downloads, on_downloads_stopped, g_steal_pointer (&task));
}

gboolean
lsp_engine_stop_finish (LspEngine     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

GFile *
lsp_engine_get_games_dir (LspEngine *self)
{
  g_return_val_if_fail (LSP_IS_ENGINE (self), NULL);
  return self->games_dir;
}

LspLibrary *
lsp_engine_get_library (LspEngine *self)
{
  g_return_val_if_fail (LSP_IS_ENGINE (self), NULL);
  return self->library;
}

LspInstaller *
lsp_engine_get_installer (LspEngine *self)
{
  g_return_val_if_fail (LSP_IS_ENGINE (self), NULL);
  return self->installer;
}

LspLauncher *
lsp_engine_get_launcher (LspEngine *self)
{
  g_return_val_if_fail (LSP_IS_ENGINE (self), NULL);
  return self->launcher;
}

LspNode *
lsp_engine_get_node (LspEngine *self)
{
  g_return_val_if_fail (LSP_IS_ENGINE (self), NULL);
  return self->node;
}

LspDownloadManager *
lsp_engine_get_downloads (LspEngine *self)
{
  g_return_val_if_fail (LSP_IS_ENGINE (self), NULL);
  return self->downloads;
}

LspChunkServer *
lsp_engine_get_chunk_server (LspEngine *self)
{
  g_return_val_if_fail (LSP_IS_ENGINE (self), NULL);
  return self->chunk_server;
}

LspLanLibrary *
lsp_engine_get_lan_library (LspEngine *self)
{
  g_return_val_if_fail (LSP_IS_ENGINE (self), NULL);
  return self->lan_library;
}

static void
lsp_engine_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  LspEngine *self = LSP_ENGINE (object);

  switch (prop_id)
    {
    case PROP_LIBRARY:
      g_value_set_object (value, self->library);
      break;
    case PROP_NODE:
      g_value_set_object (value, self->node);
      break;
    case PROP_LAN_LIBRARY:
      g_value_set_object (value, self->lan_library);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_engine_dispose (GObject *object)
{
  LspEngine *self = LSP_ENGINE (object);

  /* Downloads keep their verified chunks for the next start rather than
   * run on against a stopped node. */
  if (self->downloads != NULL)
    lsp_download_manager_stop_async (self->downloads, NULL, NULL);
  if (self->node != NULL)
    lsp_node_stop (self->node, "closed");
  g_clear_object (&self->downloads);
  g_clear_object (&self->chunk_server);
  g_clear_object (&self->lan_library);
  g_clear_object (&self->node);
  g_clear_object (&self->installer);
  g_clear_object (&self->launcher);
  g_clear_object (&self->library);

  G_OBJECT_CLASS (lsp_engine_parent_class)->dispose (object);
}

static void
lsp_engine_finalize (GObject *object)
{
  LspEngine *self = LSP_ENGINE (object);

  g_clear_object (&self->games_dir);
  g_clear_object (&self->catalog_file);
  g_clear_pointer (&self->state_dir, g_free);
  g_clear_pointer (&self->hostname, g_free);
  g_clear_pointer (&self->listen_address, g_free);
  g_clear_pointer (&self->passphrase, lsp_party_passphrase_free);
  g_clear_pointer (&self->passphrase_file, g_free);
  g_clear_pointer (&self->static_peers, g_strfreev);

  G_OBJECT_CLASS (lsp_engine_parent_class)->finalize (object);
}

static void
lsp_engine_class_init (LspEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = lsp_engine_get_property;
  object_class->dispose = lsp_engine_dispose;
  object_class->finalize = lsp_engine_finalize;

  properties[PROP_LIBRARY] =
    g_param_spec_object ("library", NULL, NULL, LSP_TYPE_LIBRARY,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_NODE] =
    g_param_spec_object ("node", NULL, NULL, LSP_TYPE_NODE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_LAN_LIBRARY] =
    g_param_spec_object ("lan-library", NULL, NULL, LSP_TYPE_LAN_LIBRARY,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LspEngine::warning:
   * @message: what went wrong and what still works
   */
  signals[WARNING] =
    g_signal_new ("warning", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
lsp_engine_init (LspEngine *self)
{
}

LspEngine *
lsp_engine_new (const LspEngineConfig *config)
{
  LspEngine *self;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (G_IS_FILE (config->games_dir), NULL);

  self = g_object_new (LSP_TYPE_ENGINE, NULL);
  self->games_dir = g_object_ref (config->games_dir);
  self->catalog_file = config->catalog_file != NULL ? g_object_ref (config->catalog_file)
                                                    : g_file_get_child (config->games_dir, "catalog.json");
  self->state_dir = config->state_dir != NULL ? g_strdup (config->state_dir)
                                              : g_build_filename (g_get_user_state_dir (), "lanspread", NULL);
  self->hostname = config->hostname != NULL ? g_strdup (config->hostname)
                                            : lsp_proto_sanitize_hostname (g_get_host_name ());
  self->port = config->port;
  self->listen_address = g_strdup (config->listen_address);
  self->static_peers = g_strdupv ((char **) config->static_peers);
  if (self->static_peers == NULL)
    self->static_peers = g_new0 (char *, 1);
  self->use_mdns = config->use_mdns;
  self->stale_seconds = config->stale_seconds;
  self->upload_slots = config->upload_slots;
  self->upload_slots_per_peer = config->upload_slots_per_peer;
  self->upload_rate = config->upload_rate;
  self->max_downloads = config->max_downloads;
  self->wait_seconds = config->wait_seconds;
  self->download_rate = config->download_rate;
  self->passphrase = g_strdup (config->passphrase);
  self->passphrase_file = g_strdup (config->passphrase_file);
  self->no_swarm = config->no_swarm;
  return self;
}
