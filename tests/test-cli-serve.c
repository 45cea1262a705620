#define G_LOG_DOMAIN "lsp-test"

#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsp-cli-peer.h"
#include "lsp-game-root.h"
#include "lsp-test-util.h"

/* Scenarios that drive the real lanspread-peer binary through its stdin
 * command loop and read its JSON events, the way scripted LAN tests do. */

static JsonObject *
find_game (Peer *peer)
{
  JsonObject *games;
  JsonArray *array;

  peer_send (peer, "games");
  games = peer_expect (peer, "games");
  g_assert_nonnull (games);
  array = json_object_get_array_member (games, "games");
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *game = json_array_get_object_element (array, i);

      if (strcmp (json_object_get_string_member (game, "id"), GAME) == 0)
        {
          json_object_ref (game);
          json_object_unref (games);
          return game;
        }
    }
  g_error ("%s is not in the library", GAME);
  return NULL;
}

static gboolean
game_installed (Peer *peer)
{
  JsonObject *game = find_game (peer);
  gboolean installed = json_object_get_boolean_member (game, "installed");

  json_object_unref (game);
  return installed;
}

/* Right after an operation's end, the library already shows its outcome:
 * a script that asks then must not see the state from before. */
static void
assert_installed (Peer     *peer,
                  gboolean  expected)
{
  g_assert_cmpint (game_installed (peer), ==, expected);
}

static gboolean
game_file_exists (Peer       *peer,
                  const char *relative)
{
  g_autofree char *path = g_build_filename (peer->games, GAME, relative, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
test_install_play_uninstall (Peer          *peer,
                             gconstpointer  data)
{
  JsonObject *event;

  peer_start (peer, NULL);
  peer_expect_ok (peer, "ready");
  g_assert_false (game_installed (peer));

  peer_send (peer, "install " GAME);
  peer_expect_ok (peer, "operation-started");
  event = peer_expect (peer, "operation-done");
  g_assert_cmpstr (json_object_get_string_member (event, "kind"), ==, "install");
  json_object_unref (event);
  assert_installed (peer, TRUE);
  g_assert_true (game_file_exists (peer, "local/data/two.dat"));
  {
    /* The library reads the installed version from the install record. */
    JsonObject *game = find_game (peer);
    g_assert_cmpstr (json_object_get_string_member (game, "installed_version"), ==, "1.0");
    json_object_unref (game);
  }

  peer_send (peer, "play " GAME);
  peer_expect_ok (peer, "game-started");
  event = peer_expect (peer, "game-exited");
  g_assert_cmpint (json_object_get_int_member (event, "exit_code"), ==, 7);
  json_object_unref (event);

  peer_send (peer, "frobnicate " GAME);
  event = peer_expect (peer, "error");
  g_assert_nonnull (strstr (json_object_get_string_member (event, "message"), "Unknown command"));
  json_object_unref (event);

  peer_send (peer, "install nosuchgame");
  event = peer_expect (peer, "operation-failed");
  g_assert_nonnull (strstr (json_object_get_string_member (event, "reason"), "catalog"));
  json_object_unref (event);

  peer_send (peer, "uninstall " GAME);
  peer_expect_ok (peer, "operation-done");
  assert_installed (peer, FALSE);
  g_assert_true (game_file_exists (peer, "a.eti"));

  peer_send (peer, "status");
  event = peer_expect (peer, "status");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (event, "operations")), ==, 0);
  json_object_unref (event);

  peer_quit (peer);
}

/* verify finds a deleted shipped file and leaves the save alone; repair
 * checks the payload (sound: nothing fetched, no peer needed) and puts the
 * file back. */
static void
test_verify_repair (Peer          *peer,
                    gconstpointer  data)
{
  g_autofree char *one = g_build_filename (peer->games, GAME, "local", "data", "one.dat", NULL);
  g_autofree char *save = g_build_filename (peer->games, GAME, "local", "saves", "slot1.sav", NULL);
  JsonArray *problems;
  JsonObject *event, *problem;

  peer_start (peer, NULL);
  peer_expect_ok (peer, "ready");
  peer_send (peer, "install " GAME);
  peer_expect_ok (peer, "operation-done");
  assert_installed (peer, TRUE);
  g_assert_cmpint (g_unlink (one), ==, 0);
  lsp_test_write_file (save, "a save", -1);

  peer_send (peer, "verify " GAME);
  event = peer_expect (peer, "operation-started");
  g_assert_cmpstr (json_object_get_string_member (event, "kind"), ==, "verify");
  json_object_unref (event);
  peer_expect_ok (peer, "operation-done");
  event = peer_expect (peer, "verified");
  g_assert_cmpstr (json_object_get_string_member (event, "payload"), ==, "sound");
  g_assert_cmpstr (json_object_get_string_member (event, "installed"), ==, "damaged");
  problems = json_object_get_array_member (event, "installed_problems");
  g_assert_cmpuint (json_array_get_length (problems), ==, 1);
  problem = json_array_get_object_element (problems, 0);
  g_assert_cmpstr (json_object_get_string_member (problem, "path"), ==, "data/one.dat");
  g_assert_cmpstr (json_object_get_string_member (problem, "problem"), ==, "missing");
  json_object_unref (event);

  peer_send (peer, "repair " GAME);
  peer_expect_ok (peer, "download-done");
  event = peer_expect (peer, "operation-started");
  g_assert_cmpstr (json_object_get_string_member (event, "kind"), ==, "repair");
  json_object_unref (event);
  peer_expect_ok (peer, "operation-done");
  event = peer_expect (peer, "repaired");
  g_assert_cmpint (json_object_get_int_member (event, "chunks"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (event, "bytes_received"), ==, 0);
  problems = json_object_get_array_member (event, "restored");
  g_assert_cmpuint (json_array_get_length (problems), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (problems, 0), "path"), ==,
                   "data/one.dat");
  json_object_unref (event);
  g_assert_true (game_file_exists (peer, "local/data/one.dat"));
  g_assert_true (game_file_exists (peer, "local/saves/slot1.sav"));

  peer_quit (peer);
}

static void
test_stop_running_game (Peer          *peer,
                        gconstpointer  data)
{
  g_autofree char *script = g_build_filename (peer->games, GAME, "local", "bin", GAME, NULL);
  JsonObject *event;

  peer_start (peer, NULL);
  peer_expect_ok (peer, "ready");
  peer_send (peer, "install " GAME);
  peer_expect_ok (peer, "operation-done");
  lsp_test_write_file (script, "#!/bin/sh\nsleep 60 &\nwait\n", -1);
  g_chmod (script, 0755);

  peer_send (peer, "play " GAME);
  peer_expect_ok (peer, "game-started");
  peer_send (peer, "uninstall " GAME);
  event = peer_expect (peer, "operation-failed");
  g_assert_nonnull (strstr (json_object_get_string_member (event, "reason"), "running"));
  json_object_unref (event);

  peer_send (peer, "stop " GAME);
  event = peer_expect (peer, "game-exited");
  g_assert_cmpint (json_object_get_int_member (event, "signal"), ==, SIGTERM);
  json_object_unref (event);
  peer_quit (peer);
}

static void
test_update_keeps_saves (Peer          *peer,
                         gconstpointer  data)
{
  const LspTestEntry v2[] = {
    { "bin/" GAME, 'f', "#!/bin/sh\nexit 0\n", 0755 },
    { "data/three.dat", 'f', "three", 0 },
  };
  g_autofree char *save = g_build_filename (peer->games, GAME, "local", "saves", "slot1.sav", NULL);
  g_autofree char *a_path = g_build_filename (peer->games, GAME, "a.eti", NULL);
  g_autofree char *b_path = g_build_filename (peer->games, GAME, "b.eti", NULL);
  g_autofree char *version = g_build_filename (peer->games, GAME, LSP_VERSION_FILE, NULL);
  g_autofree char *contents = NULL;

  peer_start (peer, NULL);
  peer_expect_ok (peer, "ready");
  peer_send (peer, "install " GAME);
  peer_expect_ok (peer, "operation-done");
  lsp_test_write_file (save, "precious", -1);

  /* A newer version arrives (as a download would leave it). */
  g_unlink (b_path);
  lsp_test_write_archive (a_path, "7z", v2, G_N_ELEMENTS (v2));
  lsp_test_write_file (version, "2.0", -1);

  peer_send (peer, "update " GAME);
  peer_expect_ok (peer, "operation-done");
  g_assert_true (game_file_exists (peer, "local/data/three.dat"));
  g_assert_false (game_file_exists (peer, "local/data/one.dat"));
  g_assert_true (g_file_get_contents (save, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious");
  peer_quit (peer);
}

static void
test_eof_quits (Peer          *peer,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  peer_start (peer, NULL);
  peer_expect_ok (peer, "ready");
  g_output_stream_close (peer->stdin_pipe, NULL, &error);
  g_assert_no_error (error);
  g_subprocess_wait_check (peer->process, NULL, &error);
  g_assert_no_error (error);
}

/* In German, what a person reads is German and what a script reads is not:
 * event names, members, command names and ids stay as they are. */
static void
test_german (Peer          *peer,
             gconstpointer  data)
{
  g_autoptr(JsonObject) help = NULL;
  g_autoptr(JsonObject) unknown = NULL;
  g_autoptr(JsonObject) not_installed = NULL;
  JsonArray *commands;
  gboolean found_play = FALSE;

  peer_start_with (peer, NULL, (const char * const []) { "german", NULL });
  peer_expect_ok (peer, "ready");

  peer_send (peer, "help");
  help = peer_expect (peer, "help");
  g_assert_nonnull (help);
  commands = json_object_get_array_member (help, "commands");
  for (guint i = 0; i < json_array_get_length (commands); i++)
    {
      JsonObject *command = json_array_get_object_element (commands, i);

      if (g_strcmp0 (json_object_get_string_member (command, "name"), "play") != 0)
        continue;
      found_play = TRUE;
      g_assert_cmpstr (json_object_get_string_member (command, "argument"), ==, "ID");
      g_assert_cmpstr (json_object_get_string_member (command, "summary"), ==, "Ein installiertes Spiel starten");
    }
  g_assert_true (found_play);

  /* The CLI's own error, then the engine's. */
  peer_send (peer, "frobnicate");
  unknown = peer_expect (peer, "error");
  g_assert_nonnull (unknown);
  g_assert_cmpstr (json_object_get_string_member (unknown, "command"), ==, "frobnicate");
  g_assert_cmpstr (json_object_get_string_member (unknown, "message"), ==,
                   "Unbekannter Befehl „frobnicate“; „help“ listet die Befehle auf.");

  peer_send (peer, "play " GAME);
  not_installed = peer_expect (peer, "error");
  g_assert_nonnull (not_installed);
  g_assert_cmpstr (json_object_get_string_member (not_installed, "command"), ==, "play");
  g_assert_cmpstr (json_object_get_string_member (not_installed, "id"), ==, GAME);
  g_assert_cmpstr (json_object_get_string_member (not_installed, "message"), ==,
                   GAME " ist nicht installiert; installieren Sie es zuerst.");

  peer_quit (peer);
}

static void
test_sigterm_quits (Peer          *peer,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  peer_start (peer, NULL);
  peer_expect_ok (peer, "ready");
  g_subprocess_send_signal (peer->process, SIGTERM);
  g_subprocess_wait_check (peer->process, NULL, &error);
  g_assert_no_error (error);
}

/* The peer dies at a step of an install; the next start recovers before
 * its first scan, so the library it reports is consistent. */
static void
test_crash_then_recover (Peer          *peer,
                         gconstpointer  data)
{
  const char *step = data;
  gboolean committed = strcmp (step, "install:after-rename") == 0;
  g_autoptr(GError) error = NULL;

  peer_start (peer, step);
  peer_expect_ok (peer, "ready");
  peer_send (peer, "install " GAME);
  g_assert_null (peer_expect (peer, "operation-done"));
  g_subprocess_wait (peer->process, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_signaled (peer->process));
  g_assert_cmpint (g_subprocess_get_term_sig (peer->process), ==, SIGABRT);
  peer_close (peer);
  g_assert_true (game_file_exists (peer, committed ? "local" : LSP_LOCAL_INSTALLING_DIR));

  peer_start (peer, NULL);
  peer_expect_ok (peer, "ready");
  g_assert_false (game_file_exists (peer, LSP_LOCAL_INSTALLING_DIR));
  g_assert_cmpint (game_installed (peer), ==, committed);
  if (!committed)
    {
      peer_send (peer, "install " GAME);
      peer_expect_ok (peer, "operation-done");
      assert_installed (peer, TRUE);
    }
  peer_quit (peer);
}

/* ---- two peers on loopback ---- */

static void
test_peers_static (Peer          *a,
                   gconstpointer  data)
{
  Peer b = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  g_autofree char *b_catalog = g_build_filename (b.games, "catalog.json", NULL);
  g_autofree char *a_id = NULL;
  g_autofree char *b_id = NULL;
  g_autofree char *peer_arg = NULL;
  JsonObject *event;
  JsonArray *peers;
  guint port;

  lsp_test_write_file (b_catalog, "{\"games\": []}", -1);
  peer_start (a, NULL);
  a_id = expect_ready (a, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);
  peer_start_with (&b, NULL, (const char * const []) { "--peer", peer_arg, "--stale-seconds", "3", "--name", "peer-b", NULL });
  b_id = expect_ready (&b, NULL);

  expect_peer_added (&b, a_id);
  expect_peer_added (a, b_id);
  expect_peer_game (&b, a_id, GAME, "changed");

  peer_send (&b, "peers");
  event = peer_expect (&b, "peers");
  peers = json_object_get_array_member (event, "peers");
  g_assert_cmpuint (json_array_get_length (peers), ==, 1);
  {
    JsonObject *peer = json_array_get_object_element (peers, 0);
    JsonObject *game = json_array_get_object_element (json_object_get_array_member (peer, "games"), 0);

    g_assert_cmpstr (json_object_get_string_member (peer, "peer_id"), ==, a_id);
    g_assert_cmpstr (json_object_get_string_member (peer, "address"), ==, peer_arg);
    g_assert_cmpstr (json_object_get_string_member (game, "id"), ==, GAME);
    g_assert_cmpstr (json_object_get_string_member (game, "availability"), ==, "ready");
  }
  json_object_unref (event);

  /* A game added on A reaches B by itself. */
  lsp_test_make_game (a->games, "game2", "7", 100);
  expect_peer_game (&b, a_id, "game2", "changed");

  /* A vanishes without a Goodbye: B drops it after the stale timeout. */
  g_subprocess_send_signal (a->process, SIGKILL);
  event = peer_expect (&b, "peer-removed");
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, a_id);
  json_object_unref (event);

  peer_quit (&b);
  lsp_test_remove_tree (b.games);
  g_free (b.games);
}

static void
test_peers_mdns (Peer          *a,
                 gconstpointer  data)
{
  Peer b = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  g_autofree char *b_catalog = g_build_filename (b.games, "catalog.json", NULL);
  g_autofree char *a_id = NULL;
  g_autofree char *b_id = NULL;
  JsonObject *event;

  lsp_test_write_file (b_catalog, "{\"games\": []}", -1);
  peer_start_with (a, NULL, (const char * const []) { "mdns", "--name", "mdns-a", NULL });
  a_id = expect_ready (a, NULL);
  peer_start_with (&b, NULL, (const char * const []) { "mdns", "--name", "mdns-b", NULL });
  b_id = expect_ready (&b, NULL);

  /* No --peer anywhere: they find each other through avahi-daemon. */
  expect_peer_added (&b, a_id);
  expect_peer_added (a, b_id);
  expect_peer_game (&b, a_id, GAME, "changed");

  /* A Goodbye removes the peer at once. */
  peer_quit (a);
  event = peer_expect (&b, "peer-removed");
  g_assert_nonnull (event);
  g_assert_cmpstr (json_object_get_string_member (event, "peer_id"), ==, a_id);
  json_object_unref (event);

  peer_quit (&b);
  lsp_test_remove_tree (b.games);
  g_free (b.games);
}

static void
test_peers_without_avahi (Peer          *a,
                          gconstpointer  data)
{
  Peer b = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  g_autofree char *b_catalog = g_build_filename (b.games, "catalog.json", NULL);
  g_autofree char *a_id = NULL;
  g_autofree char *peer_arg = NULL;
  JsonObject *event;
  guint port;

  lsp_test_write_file (b_catalog, "{\"games\": []}", -1);
  peer_start (a, NULL);
  a_id = expect_ready (a, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);

  /* It says mDNS is unavailable, and still reaches a peer given by address. */
  peer_start_with (&b, NULL, (const char * const []) { "no-avahi", "--peer", peer_arg, NULL });
  event = peer_expect (&b, "discovery");
  g_assert_nonnull (event);
  g_assert_false (json_object_get_boolean_member (event, "available"));
  g_assert_nonnull (strstr (json_object_get_string_member (event, "status"), "unavailable"));
  json_object_unref (event);
  expect_peer_added (&b, a_id);
  expect_peer_game (&b, a_id, GAME, "changed");

  peer_quit (&b);
  peer_quit (a);
  lsp_test_remove_tree (b.games);
  g_free (b.games);
}

static gint64
member_int (JsonObject *object,
            const char *name)
{
  g_assert_true (json_object_has_member (object, name));
  return json_object_get_int_member (object, name);
}

/* B downloads A's game, installs it, and the files rules hold. */
static void
test_download_install_remove (Peer          *a,
                              gconstpointer  data)
{
  Peer b = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  g_autofree char *b_catalog = g_build_filename (b.games, "catalog.json", NULL);
  static const char * const ids[] = { GAME, "game2", NULL };
  g_autofree char *a_id = NULL, *b_id = NULL, *peer_arg = NULL;
  JsonObject *event, *peers, *upload;
  JsonArray *uploads;
  gint64 total;
  guint port;

  lsp_test_write_catalog (b_catalog, ids);
  peer_start (a, NULL);
  a_id = expect_ready (a, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);
  peer_start_with (&b, NULL, (const char * const []) { "--peer", peer_arg, NULL });
  b_id = expect_ready (&b, NULL);
  expect_peer_game (&b, a_id, GAME, "changed");

  peer_send (&b, "download " GAME " --install");
  event = peer_expect (&b, "download-started");
  g_assert_cmpstr (json_object_get_string_member (event, "id"), ==, GAME);
  /* Nothing of it is here: all of it is to fetch, once the plan is known. */
  g_assert_cmpint (member_int (event, "bytes_to_fetch"), ==, member_int (event, "bytes_total"));
  g_assert_cmpint (member_int (event, "bytes_total"), >, 0);
  g_assert_cmpint (member_int (event, "bytes_reused"), ==, 0);
  json_object_unref (event);
  event = peer_expect (&b, "download-done");
  g_assert_cmpstr (json_object_get_string_member (event, "version"), ==, "1.0");
  g_assert_cmpint (member_int (event, "bytes_done"), ==, member_int (event, "bytes_total"));
  peers = json_object_get_object_member (event, "peers");
  total = member_int (event, "bytes_total");
  g_assert_cmpint (json_object_get_int_member (peers, a_id), ==, total);
  json_object_unref (event);

  /* A reports what it sent to whom, as events and in its status. */
  json_object_unref (peer_expect (a, "uploads"));
  peer_send (a, "status");
  event = peer_expect (a, "status");
  g_assert_cmpint (member_int (event, "bytes_served"), ==, total);
  uploads = json_object_get_array_member (event, "uploads");
  g_assert_cmpuint (json_array_get_length (uploads), ==, 1);
  upload = json_array_get_object_element (uploads, 0);
  g_assert_cmpstr (json_object_get_string_member (upload, "peer_id"), ==, b_id);
  g_assert_cmpint (member_int (upload, "bytes"), ==, total);
  g_assert_cmpint (member_int (upload, "active"), ==, 0);
  json_object_unref (event);
  event = peer_expect (&b, "operation-done");
  g_assert_cmpstr (json_object_get_string_member (event, "kind"), ==, "install");
  json_object_unref (event);
  assert_installed (&b, TRUE);
  g_assert_true (game_file_exists (&b, "local/data/two.dat"));

  /* Nothing to cancel; installed files are not removed. */
  peer_send (&b, "cancel " GAME);
  event = peer_expect (&b, "error");
  g_assert_cmpstr (json_object_get_string_member (event, "command"), ==, "cancel");
  json_object_unref (event);
  peer_send (&b, "remove " GAME);
  event = peer_expect (&b, "error");
  g_assert_cmpstr (json_object_get_string_member (event, "command"), ==, "remove");
  g_assert_nonnull (strstr (json_object_get_string_member (event, "message"), "uninstall it"));
  json_object_unref (event);

  peer_send (&b, "uninstall " GAME);
  peer_expect_ok (&b, "operation-done");
  peer_send (&b, "remove " GAME);
  peer_expect_ok (&b, "removed");
  g_assert_false (game_file_exists (&b, ""));

  peer_quit (&b);
  peer_quit (a);
  lsp_test_remove_tree (b.games);
  g_free (b.games);
}

/* kill -9 mid-download: the next start resumes without fetching again
 * what was verified. */
static void
test_download_killed_resumes (Peer          *a,
                              gconstpointer  data)
{
  Peer b = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  g_autofree char *b_catalog = g_build_filename (b.games, "catalog.json", NULL);
  g_autofree char *big = g_build_filename (a->games, GAME, "big.eti", NULL);
  static const char * const ids[] = { GAME, "game2", NULL };
  g_autofree char *a_id = NULL, *peer_arg = NULL;
  const char *b_args[] = { "--peer", NULL, NULL };
  gint64 started = 0, total;
  JsonObject *event;
  guint port;

  lsp_test_write_random_file (big, 37 * 1024 * 1024, 5);
  lsp_test_write_catalog (b_catalog, ids);
  peer_start_with (a, NULL, (const char * const []) { "--upload-rate", "8", NULL });
  a_id = expect_ready (a, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);
  b_args[1] = peer_arg;
  peer_start_with (&b, NULL, b_args);
  g_free (expect_ready (&b, NULL));
  expect_peer_game (&b, a_id, GAME, "changed");

  peer_send (&b, "download " GAME);
  peer_expect_ok (&b, "download-started");
  /* Past three chunks, then one more second: the state has been saved. */
  for (;;)
    {
      gint64 done;

      event = peer_expect (&b, "download-progress");
      g_assert_nonnull (event);
      done = member_int (event, "bytes_done");
      json_object_unref (event);
      if (done >= 3 * 4 * 1024 * 1024 && started == 0)
        started = g_get_monotonic_time ();
      if (started != 0 && g_get_monotonic_time () - started > 1500 * 1000)
        break;
    }
  g_subprocess_send_signal (b.process, SIGKILL);
  g_subprocess_wait (b.process, NULL, NULL);
  peer_close (&b);

  peer_start_with (&b, NULL, b_args);
  g_free (expect_ready (&b, NULL));
  event = peer_expect (&b, "download-done");
  g_assert_nonnull (event);
  total = member_int (event, "bytes_total");
  g_assert_cmpint (member_int (event, "bytes_resumed"), >=, 3 * 4 * 1024 * 1024);
  g_assert_cmpint (member_int (event, "bytes_received"), ==, total - member_int (event, "bytes_resumed"));
  json_object_unref (event);
  g_assert_true (game_file_exists (&b, "big.eti"));
  g_assert_false (game_file_exists (&b, LSP_DOWNLOAD_STATE_FILE));

  peer_quit (&b);
  peer_quit (a);
  lsp_test_remove_tree (b.games);
  g_free (b.games);
}

static void
copy_game (const char *from_games,
           const char *to_games)
{
  g_autofree char *from_root = g_build_filename (from_games, GAME, NULL);
  g_autofree char *to_root = g_build_filename (to_games, GAME, NULL);
  g_autoptr(GDir) dir = g_dir_open (from_root, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  g_assert_cmpint (g_mkdir_with_parents (to_root, 0755), ==, 0);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autoptr(GFile) from = g_file_new_build_filename (from_root, name, NULL);
      g_autoptr(GFile) to = g_file_new_build_filename (to_root, name, NULL);
      g_autoptr(GError) error = NULL;

      if (g_file_query_file_type (from, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL) != G_FILE_TYPE_REGULAR)
        continue;
      g_file_copy (from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
    }
}

/* Zeroes a file in place, keeping its size and mtime, as a failing disk
 * would: nothing but a verify can tell. */
static void
zero_file (const char *path)
{
  g_autofree char *zeros = g_malloc0 (1024 * 1024);
  struct timespec times[2];
  struct stat st;
  int fd = open (path, O_WRONLY);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  for (off_t done = 0; done < st.st_size; done += 1024 * 1024)
    g_assert_cmpint (pwrite (fd, zeros, (size_t) MIN (1024 * 1024, st.st_size - done), done), >, 0);
  times[0] = st.st_atim;
  times[1] = st.st_mtim;
  g_assert_cmpint (futimens (fd, times), ==, 0);
  close (fd);
}

static gboolean
game_damaged (Peer *peer)
{
  JsonObject *game = find_game (peer);
  gboolean damaged = json_object_get_boolean_member (game, "damaged");

  g_assert_true (json_object_get_boolean_member (game, "downloaded"));
  json_object_unref (game);
  return damaged;
}

/* kill -9 in the middle of a repair: the game is still downloaded and
 * still damaged (never served half-repaired), and a repair after the
 * restart keeps the chunks the first one wrote. */
static void
test_repair_killed (Peer          *a,
                    gconstpointer  data)
{
  Peer b = { lsp_test_make_temp_dir (), NULL, NULL, NULL };
  g_autofree char *big = g_build_filename (a->games, GAME, "big.eti", NULL);
  g_autofree char *b_big = g_build_filename (b.games, GAME, "big.eti", NULL);
  g_autofree char *b_catalog = g_build_filename (b.games, "catalog.json", NULL);
  g_autofree char *a_id = NULL, *peer_arg = NULL;
  static const char * const ids[] = { GAME, "game2", NULL };
  const char *b_args[] = { "--peer", NULL, NULL };
  const gint64 big_size = 24 * 1024 * 1024;
  JsonObject *event;
  guint port;

  lsp_test_write_random_file (big, (gsize) big_size, 5);
  copy_game (a->games, b.games);
  lsp_test_write_catalog (b_catalog, ids);

  peer_start_with (a, NULL, (const char * const []) { "--upload-rate", "4", NULL });
  a_id = expect_ready (a, &port);
  peer_arg = g_strdup_printf ("127.0.0.1:%u", port);
  b_args[1] = peer_arg;
  peer_start_with (&b, NULL, b_args);
  g_free (expect_ready (&b, NULL));
  expect_peer_game (&b, a_id, GAME, "changed");
  /* Every chunk of the big archive lost: the repair has 24 MiB to fetch. */
  zero_file (b_big);

  peer_send (&b, "verify " GAME);
  event = peer_expect (&b, "verified");
  g_assert_cmpstr (json_object_get_string_member (event, "payload"), ==, "damaged");
  json_object_unref (event);
  while (!game_damaged (&b))
    peer_expect_ok (&b, "library-changed");

  peer_send (&b, "repair " GAME);
  for (;;)
    {
      gint64 written;

      event = peer_expect (&b, "download-progress");
      g_assert_nonnull (event);
      written = member_int (event, "bytes_done") - member_int (event, "bytes_resumed");
      json_object_unref (event);
      if (written >= 8 * 1024 * 1024)
        break;
    }
  g_subprocess_send_signal (b.process, SIGKILL);
  g_subprocess_wait (b.process, NULL, NULL);
  peer_close (&b);

  peer_start_with (&b, NULL, b_args);
  g_free (expect_ready (&b, NULL));
  expect_peer_game (&b, a_id, GAME, "changed");
  g_assert_true (game_damaged (&b));
  g_assert_true (game_file_exists (&b, LSP_VERSION_FILE));
  g_assert_false (game_file_exists (&b, LSP_DOWNLOAD_STATE_FILE));

  peer_send (&b, "repair " GAME);
  event = peer_expect (&b, "repaired");
  g_assert_cmpint (member_int (event, "bytes_received"), >, 0);
  g_assert_cmpint (member_int (event, "bytes_received"), <=, big_size - 8 * 1024 * 1024);
  json_object_unref (event);
  g_assert_false (game_damaged (&b));

  peer_quit (&b);
  peer_quit (a);
  lsp_test_remove_tree (b.games);
  g_free (b.games);
}

int
main (int    argc,
      char **argv)
{
  struct rlimit no_core = { 0, 0 };

  setrlimit (RLIMIT_CORE, &no_core);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/cli/serve/install-play-uninstall", Peer, NULL, setup, test_install_play_uninstall, teardown);
  g_test_add ("/cli/serve/verify-repair", Peer, NULL, setup, test_verify_repair, teardown);
  g_test_add ("/cli/serve/stop-running-game", Peer, NULL, setup, test_stop_running_game, teardown);
  g_test_add ("/cli/serve/update-keeps-saves", Peer, NULL, setup, test_update_keeps_saves, teardown);
  g_test_add ("/cli/serve/sigterm-quits", Peer, NULL, setup, test_sigterm_quits, teardown);
  g_test_add ("/cli/serve/eof-quits", Peer, NULL, setup, test_eof_quits, teardown);
  g_test_add ("/cli/serve/german", Peer, NULL, setup, test_german, teardown);
  g_test_add ("/cli/serve/crash/install-after-extract", Peer, "install:after-extract",
              setup, test_crash_then_recover, teardown);
  g_test_add ("/cli/serve/crash/install-after-rename", Peer, "install:after-rename",
              setup, test_crash_then_recover, teardown);

  g_test_add ("/cli/serve/peers/static", Peer, NULL, setup, test_peers_static, teardown);
  g_test_add ("/cli/serve/peers/mdns", Peer, NULL, setup, test_peers_mdns, teardown);
  g_test_add ("/cli/serve/peers/without-avahi", Peer, NULL, setup, test_peers_without_avahi, teardown);
  g_test_add ("/cli/serve/download/install-remove", Peer, NULL, setup, test_download_install_remove, teardown);
  g_test_add ("/cli/serve/download/killed-resumes", Peer, NULL, setup, test_download_killed_resumes, teardown);
  g_test_add ("/cli/serve/repair/killed", Peer, NULL, setup, test_repair_killed, teardown);

  return g_test_run ();
}
