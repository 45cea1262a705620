/* lsp-discovery-private.h: what the files of LspDiscovery share */
#pragma once

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-glib/glib-watch.h>

#include "lsp-discovery.h"

G_BEGIN_DECLS

/* Resolving a service that stopped answering is retried with backoff
 * while the browser still lists it. */
#define RESOLVE_RETRY_MIN_SECONDS 5
#define RESOLVE_RETRY_MAX_SECONDS 300

typedef struct
{
  LspDiscovery          *self;
  char                  *key;
  AvahiIfIndex           interface;
  AvahiProtocol          protocol;
  char                  *name;
  char                  *domain;
  AvahiServiceResolver  *resolver;
  LspDiscoveredPeer     *resolved;   /* its last valid answer, or NULL */
  guint                  retry_seconds;
  guint                  retry_source_id;
} Service;

struct _LspDiscovery
{
  GObject              parent_instance;

  char                *peer_id;
  char                *hostname;
  guint16              port;
  gboolean             loopback_only;
  guint64              library_rev;
  gboolean             needs_passphrase;

  AvahiGLibPoll       *poll;
  AvahiClient         *client;
  AvahiEntryGroup     *group;
  AvahiServiceBrowser *browser;
  char                *service_name;
  AvahiIfIndex         interface;

  GHashTable          *services;   /* key → Service */
  GHashTable          *peers;      /* peer_id → LspDiscoveredPeer */
  GHashTable          *verified;   /* peer_id → address key where it was authenticated */
  GHashTable          *unreachable;  /* peer_id → set of address keys a dial to it failed at */
  guint                n_ignored;  /* services not followed, over the limit: for tests */

  gboolean             started;
  gboolean             available;
  gboolean             published;
  char                *status;
  guint                reconnect_source_id;
};

enum {
  LSP_DISCOVERY_PEER_FOUND,
  LSP_DISCOVERY_PEER_LOST,
  LSP_DISCOVERY_N_SIGNALS
};
extern guint _lsp_discovery_signals[LSP_DISCOVERY_N_SIGNALS];

/* lsp-discovery.c */
void _lsp_discovery_set_state (LspDiscovery *self, gboolean available, const char *status);

/* lsp-discovery-browse.c */
void _lsp_discovery_forget_all (LspDiscovery *self);
void _lsp_discovery_on_browser_event (AvahiServiceBrowser *browser, AvahiIfIndex interface, AvahiProtocol protocol,
                                      AvahiBrowserEvent event, const char *name, const char *type,
                                      const char *domain, AvahiLookupResultFlags flags, void *user_data);
void _lsp_discovery_service_free (Service *service);

/* The TXT record reader, shared with the fuzz target that feeds it wire
 * bytes. */
GHashTable *lsp_discovery_txt_to_table (AvahiStringList *txt);

G_END_DECLS
