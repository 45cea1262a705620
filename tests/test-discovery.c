#include "config.h"

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-common/strlst.h>
#include <avahi-glib/glib-watch.h>
#include <net/if.h>
#include <string.h>

#include "lsp-discovery.h"
#include "lsp-error.h"
#include "lsp-proto.h"
#include "lsp-test-util.h"

/* These tests need a real avahi-daemon restricted to the loopback
 * interface: run `tests/mdns-loopback up` (as root) first. Without it they
 * fail; they never skip. */

#define DAEMON_TIMEOUT_MS 10000
#define EVENT_TIMEOUT_MS  15000

static char *
random_peer_id (void)
{
  GString *id = g_string_new (NULL);

  for (guint i = 0; i < 8; i++)
    g_string_append_printf (id, "%08x", g_random_int ());
  return g_string_free (id, FALSE);
}

typedef struct
{
  GHashTable *found;   /* peer_id → LspDiscoveredPeer, the latest */
  GHashTable *lost;    /* set of peer_id */
  guint       n_found;
} Events;

static void
events_init (Events *events)
{
  events->found = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) lsp_discovered_peer_free);
  events->lost = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  events->n_found = 0;
}

static void
events_clear (Events *events)
{
  g_clear_pointer (&events->found, g_hash_table_unref);
  g_clear_pointer (&events->lost, g_hash_table_unref);
}

static void
on_peer_found (LspDiscovery      *discovery,
               LspDiscoveredPeer *peer,
               Events            *events)
{
  g_hash_table_replace (events->found, g_strdup (peer->peer_id), lsp_discovered_peer_copy (peer));
  g_hash_table_remove (events->lost, peer->peer_id);
  events->n_found++;
}

static void
on_peer_lost (LspDiscovery *discovery,
              const char   *peer_id,
              Events       *events)
{
  g_hash_table_remove (events->found, peer_id);
  g_hash_table_add (events->lost, g_strdup (peer_id));
}

static gboolean
is_available (gpointer data)
{
  return lsp_discovery_get_available (data);
}

static void
require_daemon (LspDiscovery *discovery)
{
  if (!lsp_test_wait_until (is_available, discovery, DAEMON_TIMEOUT_MS))
    g_error ("avahi-daemon is not reachable (%s); start it with “tests/mdns-loopback up”",
             lsp_discovery_get_status (discovery));
}

typedef struct
{
  Events     *events;
  const char *peer_id;
  guint64     library_rev;
} Wait;

static gboolean
has_found (gpointer data)
{
  Wait *wait = data;
  return g_hash_table_contains (wait->events->found, wait->peer_id);
}

static gboolean
has_found_rev (gpointer data)
{
  Wait *wait = data;
  LspDiscoveredPeer *peer = g_hash_table_lookup (wait->events->found, wait->peer_id);

  return peer != NULL && peer->has_library_rev && peer->library_rev == wait->library_rev;
}

static gboolean
has_lost (gpointer data)
{
  Wait *wait = data;
  return g_hash_table_contains (wait->events->lost, wait->peer_id);
}

static gboolean
is_published (gpointer data)
{
  return lsp_discovery_get_published (data);
}

static LspDiscovery *
start_peer (const char *peer_id,
            const char *hostname,
            guint16     port,
            Events     *events)
{
  LspDiscovery *discovery = lsp_discovery_new (peer_id, hostname, port, TRUE);

  g_signal_connect (discovery, "peer-found", G_CALLBACK (on_peer_found), events);
  g_signal_connect (discovery, "peer-lost", G_CALLBACK (on_peer_lost), events);
  lsp_discovery_start (discovery);
  return discovery;
}

static void
assert_peer (const LspDiscoveredPeer *peer,
             const char              *peer_id,
             const char              *hostname,
             guint16                  port,
             guint64                  library_rev)
{
  g_assert_nonnull (peer);
  g_assert_cmpstr (peer->peer_id, ==, peer_id);
  g_assert_cmpstr (peer->host, ==, "127.0.0.1");
  g_assert_cmpuint (peer->port, ==, port);
  g_assert_cmpuint (peer->proto_ver, ==, LSP_PROTO_VERSION);
  g_assert_true (peer->has_library_rev);
  g_assert_cmpuint (peer->library_rev, ==, library_rev);
  g_assert_cmpstr (peer->hostname, ==, hostname);
  /* Seen on the loopback interface, and only there. */
  g_assert_cmpint (peer->interface, ==, (int) if_nametoindex ("lo"));
}

/* Two peers in one process, with the same hostname so that the second
 * announcement collides and must move to an alternative name. */
static void
test_find_and_lose (void)
{
  g_autofree char *id_a = random_peer_id ();
  g_autofree char *id_b = random_peer_id ();
  g_autofree char *hostname = g_strdup_printf ("lsp-test-%08x", g_random_int ());
  guint16 port_a = (guint16) g_random_int_range (20000, 30000);
  guint16 port_b = port_a + 1;
  g_autoptr(LspDiscovery) a = NULL;
  g_autoptr(LspDiscovery) b = NULL;
  Events events_a, events_b;
  Wait wait;

  events_init (&events_a);
  events_init (&events_b);

  a = lsp_discovery_new (id_a, hostname, port_a, TRUE);
  lsp_discovery_set_library_rev (a, 5);
  lsp_discovery_set_needs_passphrase (a, TRUE);
  g_signal_connect (a, "peer-found", G_CALLBACK (on_peer_found), &events_a);
  g_signal_connect (a, "peer-lost", G_CALLBACK (on_peer_lost), &events_a);
  lsp_discovery_start (a);
  require_daemon (a);
  g_assert_true (lsp_test_wait_until (is_published, a, EVENT_TIMEOUT_MS));

  b = start_peer (id_b, hostname, port_b, &events_b);
  require_daemon (b);
  g_assert_true (lsp_test_wait_until (is_published, b, EVENT_TIMEOUT_MS));
  g_test_message ("published as “%s” and “%s”",
                  lsp_discovery_get_service_name (a), lsp_discovery_get_service_name (b));
  g_assert_cmpstr (lsp_discovery_get_service_name (a), ==, hostname);
  g_assert_cmpstr (lsp_discovery_get_service_name (b), !=, hostname);
  g_assert_true (g_str_has_prefix (lsp_discovery_get_service_name (b), hostname));

  wait = (Wait) { &events_a, id_b, 0 };
  g_assert_true (lsp_test_wait_until (has_found, &wait, EVENT_TIMEOUT_MS));
  wait = (Wait) { &events_b, id_a, 0 };
  g_assert_true (lsp_test_wait_until (has_found, &wait, EVENT_TIMEOUT_MS));

  assert_peer (g_hash_table_lookup (events_a.found, id_b), id_b, hostname, port_b, 0);
  assert_peer (g_hash_table_lookup (events_b.found, id_a), id_a, hostname, port_a, 5);
  g_assert_cmpstr (((LspDiscoveredPeer *) g_hash_table_lookup (events_b.found, id_a))->service_name, ==,
                   lsp_discovery_get_service_name (a));
  assert_peer (lsp_discovery_lookup_peer (a, id_b), id_b, hostname, port_b, 0);
  /* A party with a passphrase says so, and nothing more about it. */
  g_assert_true (((LspDiscoveredPeer *) g_hash_table_lookup (events_b.found, id_a))->needs_passphrase);
  g_assert_false (((LspDiscoveredPeer *) g_hash_table_lookup (events_a.found, id_b))->needs_passphrase);

  /* Nobody finds themselves. */
  g_assert_false (g_hash_table_contains (events_a.found, id_a));
  g_assert_false (g_hash_table_contains (events_b.found, id_b));
  g_assert_null (lsp_discovery_lookup_peer (a, id_a));

  /* A new library_rev reaches the other side through the TXT record. */
  lsp_discovery_set_library_rev (a, 8);
  wait = (Wait) { &events_b, id_a, 8 };
  g_assert_true (lsp_test_wait_until (has_found_rev, &wait, EVENT_TIMEOUT_MS));
  assert_peer (g_hash_table_lookup (events_b.found, id_a), id_a, hostname, port_a, 8);

  /* Leaving withdraws the service: the other side loses us. */
  g_clear_object (&a);
  wait = (Wait) { &events_b, id_a, 0 };
  g_assert_true (lsp_test_wait_until (has_lost, &wait, EVENT_TIMEOUT_MS));
  g_assert_null (lsp_discovery_lookup_peer (b, id_a));
  g_assert_false (g_hash_table_contains (events_b.found, id_a));

  g_clear_object (&b);
  events_clear (&events_a);
  events_clear (&events_b);
}

/* A raw announcement on the loopback interface, as another program (or a
 * hostile one) would make it, through a client of its own. */
typedef struct
{
  AvahiGLibPoll   *poll;
  AvahiClient     *client;
  AvahiEntryGroup *group;
  gboolean         established;
} RawService;

static void
on_raw_group (AvahiEntryGroup      *group,
              AvahiEntryGroupState  state,
              void                 *user_data)
{
  RawService *raw = user_data;

  if (state == AVAHI_ENTRY_GROUP_ESTABLISHED)
    raw->established = TRUE;
  g_assert_cmpint (state, !=, AVAHI_ENTRY_GROUP_FAILURE);
  g_assert_cmpint (state, !=, AVAHI_ENTRY_GROUP_COLLISION);
}

static gboolean
raw_established (gpointer data)
{
  return ((RawService *) data)->established;
}

/* Takes ownership of list. */
static RawService *
raw_service_publish_list (const char      *name,
                          guint16          port,
                          AvahiStringList *list)
{
  RawService *raw = g_new0 (RawService, 1);
  int error = 0;

  raw->poll = avahi_glib_poll_new (NULL, G_PRIORITY_DEFAULT);
  raw->client = avahi_client_new (avahi_glib_poll_get (raw->poll), 0, NULL, NULL, &error);
  if (raw->client == NULL)
    g_error ("avahi-daemon is not reachable (%s); start it with “tests/mdns-loopback up”", avahi_strerror (error));
  raw->group = avahi_entry_group_new (raw->client, on_raw_group, raw);
  g_assert_nonnull (raw->group);
  g_assert_cmpint (avahi_entry_group_add_service_strlst (raw->group, (AvahiIfIndex) if_nametoindex ("lo"),
                                                         AVAHI_PROTO_UNSPEC, 0, name, LSP_DISCOVERY_SERVICE_TYPE,
                                                         NULL, NULL, port, list), ==, 0);
  avahi_string_list_free (list);
  g_assert_cmpint (avahi_entry_group_commit (raw->group), ==, 0);
  g_assert_true (lsp_test_wait_until (raw_established, raw, EVENT_TIMEOUT_MS));
  return raw;
}

static RawService *
raw_service_publish (const char         *name,
                     guint16             port,
                     const char * const *txt)
{
  AvahiStringList *list = NULL;

  /* avahi_string_list_add prepends; keep the order given. */
  for (guint i = g_strv_length ((char **) txt); i > 0; i--)
    list = avahi_string_list_add (list, txt[i - 1]);
  return raw_service_publish_list (name, port, list);
}

static void
raw_service_free (RawService *raw)
{
  avahi_entry_group_free (raw->group);
  avahi_client_free (raw->client);
  avahi_glib_poll_free (raw->poll);
  g_free (raw);
}

/* A service that is not a valid Lanspread peer never becomes one, and TXT
 * entries are read as RFC 6763 says. */
static void
test_ignores_invalid_service (void)
{
  g_autofree char *id = random_peer_id ();
  g_autofree char *hostname = g_strdup_printf ("lsp-test-%08x", g_random_int ());
  guint32 tag = g_random_int ();
  g_autofree char *forged_name = g_strdup_printf ("lsp-forged-%08x", tag);
  g_autofree char *nul_name = g_strdup_printf ("lsp-nul-%08x", tag);
  g_autofree char *good_name = g_strdup_printf ("lsp-good-%08x", tag);
  g_autofree char *case_name = g_strdup_printf ("lsp-case-%08x", tag);
  g_autofree char *nul_id = random_peer_id ();
  g_autofree char *nul_entry = g_strdup_printf ("peer_id=%s", nul_id);
  g_autofree char *good_id = random_peer_id ();
  g_autofree char *good_entry = g_strdup_printf ("peer_id=%s", good_id);
  g_autofree char *case_id = random_peer_id ();
  g_autofree char *case_entry = g_strdup_printf ("PEER_ID=%s", case_id);
  const char * const forged_txt[] = { "peer_id=../../etc/passwd", "proto_ver=1", NULL };
  const char * const good_txt[] = { good_entry, "proto_ver=2", "library_rev=12", NULL };
  const char * const case_txt[] = { case_entry, "peer_id=not-this-one", "Proto_Ver=1", NULL };
  g_autoptr(LspDiscovery) discovery = NULL;
  RawService *forged, *nul, *good, *cased;
  AvahiStringList *nul_list = NULL;
  Events events;
  Wait wait;

  events_init (&events);
  discovery = start_peer (id, hostname, 40000, &events);
  require_daemon (discovery);

  /* The bad ones first, then valid ones as markers that the bad ones had
   * their chance to show up. A NUL byte hides "x" behind a valid id. */
  forged = raw_service_publish (forged_name, 41999, forged_txt);
  nul_list = avahi_string_list_add (NULL, "proto_ver=1");
  {
    g_autoptr(GByteArray) bytes = g_byte_array_new ();

    g_byte_array_append (bytes, (const guint8 *) nul_entry, (guint) strlen (nul_entry));
    g_byte_array_append (bytes, (const guint8 *) "\0x", 2);
    nul_list = avahi_string_list_add_arbitrary (nul_list, bytes->data, bytes->len);
  }
  nul = raw_service_publish_list (nul_name, 41997, nul_list);
  lsp_test_run_for (1000);
  good = raw_service_publish (good_name, 41998, good_txt);
  cased = raw_service_publish (case_name, 41996, case_txt);

  wait = (Wait) { &events, good_id, 12 };
  g_assert_true (lsp_test_wait_until (has_found_rev, &wait, EVENT_TIMEOUT_MS));
  {
    LspDiscoveredPeer *peer = g_hash_table_lookup (events.found, good_id);

    g_assert_cmpuint (peer->port, ==, 41998);
    g_assert_cmpuint (peer->proto_ver, ==, 2);
    g_assert_null (peer->hostname);
    g_assert_cmpstr (peer->service_name, ==, good_name);
  }
  wait = (Wait) { &events, case_id, 0 };
  g_assert_true (lsp_test_wait_until (has_found, &wait, EVENT_TIMEOUT_MS));
  g_assert_cmpuint (((LspDiscoveredPeer *) g_hash_table_lookup (events.found, case_id))->port, ==, 41996);
  g_assert_false (((LspDiscoveredPeer *) g_hash_table_lookup (events.found, case_id))->has_library_rev);

  g_assert_false (g_hash_table_contains (events.found, nul_id));
  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, events.found);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        g_assert_cmpstr (((LspDiscoveredPeer *) value)->service_name, !=, forged_name);
        g_assert_cmpstr (((LspDiscoveredPeer *) value)->service_name, !=, nul_name);
      }
  }

  raw_service_free (good);
  wait = (Wait) { &events, good_id, 0 };
  g_assert_true (lsp_test_wait_until (has_lost, &wait, EVENT_TIMEOUT_MS));

  raw_service_free (cased);
  raw_service_free (nul);
  raw_service_free (forged);
  g_clear_object (&discovery);
  events_clear (&events);
}

typedef struct
{
  Events     *events;
  const char *peer_id;
  const char *service_name;
} WaitService;

static gboolean
found_through (gpointer data)
{
  WaitService *wait = data;
  LspDiscoveredPeer *peer = g_hash_table_lookup (wait->events->found, wait->peer_id);

  return peer != NULL && g_strcmp0 (peer->service_name, wait->service_name) == 0;
}

/* One peer behind two services (a stale name next to a new one, or two
 * interfaces) is still one peer, lost only with its last service. */
static void
test_one_peer_two_services (void)
{
  g_autofree char *id = random_peer_id ();
  g_autofree char *hostname = g_strdup_printf ("lsp-test-%08x", g_random_int ());
  g_autofree char *other_id = random_peer_id ();
  g_autofree char *other_txt = g_strdup_printf ("peer_id=%s", other_id);
  guint32 tag = g_random_int ();
  g_autofree char *name_a = g_strdup_printf ("lsp-dup-%08x-a", tag);
  g_autofree char *name_b = g_strdup_printf ("lsp-dup-%08x-b", tag);
  const char * const txt[] = { other_txt, "proto_ver=1", "library_rev=3", "hostname=twin", NULL };
  g_autoptr(LspDiscovery) discovery = NULL;
  RawService *a, *b;
  Events events;
  WaitService wait;
  Wait lost;
  guint n_found;

  events_init (&events);
  discovery = start_peer (id, hostname, 40001, &events);
  require_daemon (discovery);

  b = raw_service_publish (name_b, 41802, txt);
  wait = (WaitService) { &events, other_id, name_b };
  g_assert_true (lsp_test_wait_until (found_through, &wait, EVENT_TIMEOUT_MS));
  a = raw_service_publish (name_a, 41801, txt);
  /* The same peer, described by its preferred service from now on. */
  wait = (WaitService) { &events, other_id, name_a };
  g_assert_true (lsp_test_wait_until (found_through, &wait, EVENT_TIMEOUT_MS));
  g_assert_cmpuint (((LspDiscoveredPeer *) g_hash_table_lookup (events.found, other_id))->port, ==, 41801);

  n_found = events.n_found;
  raw_service_free (a);
  wait = (WaitService) { &events, other_id, name_b };
  g_assert_true (lsp_test_wait_until (found_through, &wait, EVENT_TIMEOUT_MS));
  g_assert_cmpuint (events.n_found, >, n_found);
  g_assert_cmpuint (((LspDiscoveredPeer *) g_hash_table_lookup (events.found, other_id))->port, ==, 41802);
  g_assert_false (g_hash_table_contains (events.lost, other_id));
  g_assert_nonnull (lsp_discovery_lookup_peer (discovery, other_id));

  raw_service_free (b);
  lost = (Wait) { &events, other_id, 0 };
  g_assert_true (lsp_test_wait_until (has_lost, &lost, EVENT_TIMEOUT_MS));
  g_assert_null (lsp_discovery_lookup_peer (discovery, other_id));

  g_clear_object (&discovery);
  events_clear (&events);
}

static GHashTable *
txt_new (const char *first_key,
         ...)
{
  GHashTable *txt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *key = first_key;
  va_list args;

  va_start (args, first_key);
  while (key != NULL)
    {
      const char *value = va_arg (args, const char *);

      g_hash_table_insert (txt, g_strdup (key), g_strdup (value));
      key = va_arg (args, const char *);
    }
  va_end (args);
  return txt;
}

#define PEER_ID "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static void
test_txt_validation (void)
{
  static const struct {
    const char *peer_id;
    const char *proto_ver;
    const char *library_rev;
    const char *hostname;
    const char *fragment;
  } cases[] = {
    { NULL, "1", "0", "h", "“peer_id” is missing" },
    { "abc", "1", "0", "h", "“peer_id” is not 64 lowercase hex" },
    { PEER_ID "0", "1", "0", "h", "“peer_id” is not 64 lowercase hex" },
    { "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", "1", "0", "h", "“peer_id” is not" },
    { PEER_ID, NULL, "0", "h", "“proto_ver” is missing" },
    { PEER_ID, "0", "0", "h", "“proto_ver” is not an integer from 1" },
    { PEER_ID, "01", "0", "h", "“proto_ver” is not" },
    { PEER_ID, "-1", "0", "h", "“proto_ver” is not" },
    { PEER_ID, "65536", "0", "h", "“proto_ver” is not" },
    { PEER_ID, "1x", "0", "h", "“proto_ver” is not" },
    { PEER_ID, "", "0", "h", "“proto_ver” is not" },
    { PEER_ID, "1", "-3", "h", "“library_rev” is not an integer" },
    { PEER_ID, "1", "9007199254740992", "h", "“library_rev” is not" },
    { PEER_ID, "1", "99999999999999999999", "h", "“library_rev” is not" },
    { PEER_ID, "1", " 4", "h", "“library_rev” is not" },
    { PEER_ID, "1", "4", "", "“hostname” is not 1–63 bytes" },
    { PEER_ID, "1", "4", "a\nb", "“hostname” is not" },
    { PEER_ID, "1", "4", "0123456789012345678901234567890123456789012345678901234567890123", "“hostname” is not" },
    { PEER_ID, "1", "4", "\xff\xfe", "“hostname” is not" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GHashTable) txt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_autoptr(LspDiscoveredPeer) peer = NULL;
      g_autoptr(GError) error = NULL;

      if (cases[i].peer_id != NULL)
        g_hash_table_insert (txt, g_strdup ("peer_id"), g_strdup (cases[i].peer_id));
      if (cases[i].proto_ver != NULL)
        g_hash_table_insert (txt, g_strdup ("proto_ver"), g_strdup (cases[i].proto_ver));
      g_hash_table_insert (txt, g_strdup ("library_rev"), g_strdup (cases[i].library_rev));
      g_hash_table_insert (txt, g_strdup ("hostname"), g_strdup (cases[i].hostname));

      g_test_message ("case %u", i);
      peer = lsp_discovered_peer_new_from_txt (txt, "127.0.0.1", 4000, &error);
      g_assert_null (peer);
      g_assert_error (error, LSP_ERROR, LSP_ERROR_INVALID_DATA);
      if (strstr (error->message, cases[i].fragment) == NULL)
        g_error ("case %u: “%s” does not mention “%s”", i, error->message, cases[i].fragment);
    }

  {
    g_autoptr(GHashTable) txt = txt_new ("peer_id", PEER_ID, "proto_ver", "3", "library_rev", "9007199254740991",
                                         "hostname", "Ünïcode box", "extra", "ignored", NULL);
    g_autoptr(LspDiscoveredPeer) peer = NULL;
    g_autoptr(GError) error = NULL;

    peer = lsp_discovered_peer_new_from_txt (txt, "fe80::1%lo", 41000, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (peer->peer_id, ==, PEER_ID);
    g_assert_cmpuint (peer->proto_ver, ==, 3);
    g_assert_true (peer->has_library_rev);
    g_assert_cmpuint (peer->library_rev, ==, LSP_PROTO_MAX_INT);
    g_assert_cmpstr (peer->hostname, ==, "Ünïcode box");
    g_assert_cmpstr (peer->host, ==, "fe80::1%lo");
    g_assert_cmpuint (peer->port, ==, 41000);
  }
  {
    /* library_rev and hostname are optional; a key without “=” is not a value. */
    g_autoptr(GHashTable) txt = txt_new ("peer_id", PEER_ID, "proto_ver", "1", NULL);
    g_autoptr(LspDiscoveredPeer) peer = NULL;
    g_autoptr(GError) error = NULL;

    peer = lsp_discovered_peer_new_from_txt (txt, "127.0.0.1", 1, &error);
    g_assert_no_error (error);
    g_assert_false (peer->has_library_rev);
    g_assert_null (peer->hostname);
    g_assert_false (peer->needs_passphrase);

    g_hash_table_insert (txt, g_strdup ("library_rev"), NULL);
    g_clear_pointer (&peer, lsp_discovered_peer_free);
    peer = lsp_discovered_peer_new_from_txt (txt, "127.0.0.1", 1, &error);
    g_assert_null (peer);
    g_assert_nonnull (strstr (error->message, "“library_rev” is not"));
    g_clear_error (&error);

    g_hash_table_remove (txt, "library_rev");
    g_hash_table_insert (txt, g_strdup ("auth"), g_strdup ("1"));
    g_clear_pointer (&peer, lsp_discovered_peer_free);
    peer = lsp_discovered_peer_new_from_txt (txt, "127.0.0.1", 1, &error);
    g_assert_no_error (error);
    g_assert_true (peer->needs_passphrase);
    g_hash_table_insert (txt, g_strdup ("auth"), g_strdup ("yes"));
    g_clear_pointer (&peer, lsp_discovered_peer_free);
    peer = lsp_discovered_peer_new_from_txt (txt, "127.0.0.1", 1, &error);
    g_assert_null (peer);
    g_assert_nonnull (strstr (error->message, "“auth” is not 1"));
    g_clear_error (&error);

    g_hash_table_remove (txt, "auth");
    peer = lsp_discovered_peer_new_from_txt (txt, "127.0.0.1", 0, &error);
    g_assert_null (peer);
    g_assert_nonnull (strstr (error->message, "port 0"));
  }
}

static gboolean
status_settled (gpointer data)
{
  const char *status = lsp_discovery_get_status (data);
  return status != NULL && !g_str_equal (status, "mDNS is not started");
}

/* Runs in a child whose system bus address leads nowhere or to a bus
 * without avahi-daemon: the object must say so and keep working. */
static void
check_unavailable (const char *expected_fragment)
{
  g_autofree char *id = random_peer_id ();
  g_autoptr(LspDiscovery) discovery = lsp_discovery_new (id, "lonely", 41000, TRUE);
  Events events;

  events_init (&events);
  g_signal_connect (discovery, "peer-found", G_CALLBACK (on_peer_found), &events);
  g_signal_connect (discovery, "peer-lost", G_CALLBACK (on_peer_lost), &events);
  lsp_discovery_start (discovery);
  g_assert_true (lsp_test_wait_until (status_settled, discovery, DAEMON_TIMEOUT_MS));
  lsp_test_run_for (1000);

  g_test_message ("status: %s", lsp_discovery_get_status (discovery));
  g_assert_false (lsp_discovery_get_available (discovery));
  g_assert_false (lsp_discovery_get_published (discovery));
  g_assert_nonnull (strstr (lsp_discovery_get_status (discovery), expected_fragment));
  g_assert_cmpuint (events.n_found, ==, 0);
  g_assert_cmpuint (lsp_discovery_get_n_peers (discovery), ==, 0);

  /* Still usable: a new revision is kept for when mDNS comes back. */
  lsp_discovery_set_library_rev (discovery, 3);
  g_assert_cmpuint (lsp_discovery_get_library_rev (discovery), ==, 3);

  g_clear_object (&discovery);
  events_clear (&events);
}

static void
test_unavailable_no_bus (void)
{
  if (g_test_subprocess ())
    {
      check_unavailable ("mDNS is unavailable");
      return;
    }

  {
    g_autofree char *dir = lsp_test_make_temp_dir ();
    g_autofree char *address = g_strdup_printf ("unix:path=%s/no-bus-here", dir);

    g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);
    g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_unsetenv ("DBUS_SYSTEM_BUS_ADDRESS");
    lsp_test_remove_tree (dir);
    g_test_trap_assert_passed ();
  }
}

static void
test_unavailable_no_daemon (void)
{
  if (g_test_subprocess ())
    {
      check_unavailable ("Waiting for avahi-daemon");
      return;
    }

  {
    g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);

    g_test_dbus_up (bus);
    g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", g_test_dbus_get_bus_address (bus), TRUE);
    g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_unsetenv ("DBUS_SYSTEM_BUS_ADDRESS");
    g_test_dbus_down (bus);
    g_test_trap_assert_passed ();
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/peer/discovery/txt-validation", test_txt_validation);
  g_test_add_func ("/peer/discovery/find-and-lose", test_find_and_lose);
  g_test_add_func ("/peer/discovery/ignores-invalid-service", test_ignores_invalid_service);
  g_test_add_func ("/peer/discovery/one-peer-two-services", test_one_peer_two_services);
  g_test_add_func ("/peer/discovery/unavailable/no-bus", test_unavailable_no_bus);
  g_test_add_func ("/peer/discovery/unavailable/no-daemon", test_unavailable_no_daemon);

  return g_test_run ();
}
