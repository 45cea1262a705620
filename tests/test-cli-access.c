#define G_LOG_DOMAIN "lsp-test"

#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "lsp-cli-peer.h"
#include "lsp-test-util.h"

/* Access control through the real lanspread-peer binary: a party
 * passphrase, and a --peer address whose key changed. */

/* Another key at a --peer address is reported and not connected to
 * until the user trusts it. */
static void
test_peers_key_changed (Peer          *a,
                        gconstpointer  data)
{
  Peer b = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  Peer other = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  g_autofree char *b_catalog = g_build_filename (b.games, "catalog.json", NULL);
  g_autofree char *other_catalog = g_build_filename (other.games, "catalog.json", NULL);
  g_autofree char *a_id = NULL, *other_id = NULL, *peer_arg = NULL, *port_arg = NULL;
  JsonObject *event;
  guint port;

  lsp_test_write_file (b_catalog, "{\"games\": []}", -1);
  lsp_test_write_file (other_catalog, "{\"games\": []}", -1);
  peer_start (a, NULL);
  a_id = expect_ready (a, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);
  port_arg = g_strdup_printf ("%u", port);
  peer_start_with (&b, NULL, (const char * const []) { "--peer", peer_arg, NULL });
  g_free (expect_ready (&b, NULL));
  expect_peer_added (&b, a_id);
  peer_quit (a);

  peer_start_with (&other, NULL, (const char * const []) { "--port", port_arg, NULL });
  other_id = expect_ready (&other, NULL);
  event = peer_expect (&b, "peer-key-changed");
  g_assert_cmpstr (json_object_get_string_member (event, "address"), ==, peer_arg);
  g_assert_cmpstr (json_object_get_string_member (event, "pinned_peer_id"), ==, a_id);
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, other_id);
  json_object_unref (event);

  {
    g_autofree char *command = g_strdup_printf ("trust %s", peer_arg);
    peer_send (&b, command);
  }
  peer_expect_ok (&b, "trusted");
  expect_peer_added (&b, other_id);

  peer_quit (&b);
  peer_quit (&other);
  lsp_test_remove_tree (b.games);
  lsp_test_remove_tree (other.games);
  g_free (b.games);
  g_free (other.games);
}

static char *
write_secret (const char *dir,
              const char *name,
              const char *passphrase,
              int         mode)
{
  char *path = g_build_filename (dir, name, NULL);

  lsp_test_write_file (path, passphrase, -1);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return path;
}

/* Two peers of a party with a passphrase find each other and download;
 * a passphrase file others can read stops the peer before it starts. */
static void
test_passphrase (Peer          *a,
                 gconstpointer  data)
{
  Peer b = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  g_autofree char *b_catalog = g_build_filename (b.games, "catalog.json", NULL);
  static const char * const ids[] = { GAME, NULL };
  g_autofree char *secret_dir = lsp_test_make_temp_dir ();
  g_autofree char *secret = write_secret (secret_dir, "secret", "a long party passphrase\n", 0600);
  g_autofree char *shared = write_secret (secret_dir, "shared", "a long party passphrase\n", 0644);
  g_autofree char *a_id = NULL, *peer_arg = NULL, *message = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *event;
  guint port;

  lsp_test_write_catalog (b_catalog, ids);
  peer_start_with (a, NULL, (const char * const []) { "--passphrase-file", secret, NULL });
  a_id = expect_ready (a, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);
  peer_start_with (&b, NULL, (const char * const []) { "--peer", peer_arg, "--passphrase-file", secret, NULL });
  g_free (expect_ready (&b, NULL));
  expect_peer_game (&b, a_id, GAME, "changed");
  peer_send (&b, "download " GAME);
  event = peer_expect (&b, "download-done");
  g_assert_cmpstr (json_object_get_string_member (event, "version"), ==, "1.0");
  json_object_unref (event);
  peer_quit (&b);
  peer_quit (a);

  {
    const char *argv[] = { g_getenv ("LANSPREAD_PEER"), "serve", "--games", b.games, "--no-mdns",
                           "--passphrase-file", shared, NULL };
    g_autoptr(GSubprocess) process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);

    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &message, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 2);
    g_assert_nonnull (strstr (message, "chmod 600"));
  }

  lsp_test_remove_tree (secret_dir);
  lsp_test_remove_tree (b.games);
  g_free (b.games);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/cli/access/passphrase", Peer, NULL, setup, test_passphrase, teardown);
  g_test_add ("/cli/access/key-changed", Peer, NULL, setup, test_peers_key_changed, teardown);

  return g_test_run ();
}
