#define G_LOG_DOMAIN "lsp-test"

#include "config.h"

#include "lsp-cli-peer.h"

#include "lsp-game-root.h"
#include "lsp-test-util.h"

#include <string.h>

/* extra: more options for serve; without mdns in them, the peer runs
 * with --no-mdns so unrelated tests never find each other. */
void
peer_start_with (Peer               *peer,
                 const char         *crash_at,
                 const char * const *extra)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GError) error = NULL;
  const char *binary = g_getenv ("LANSPREAD_PEER");

  g_assert_nonnull (binary);
  if (crash_at != NULL)
    g_subprocess_launcher_setenv (launcher, "LANSPREAD_CRASH_AT", crash_at, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "LANSPREAD_CRASH_AT");

  {
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
    gboolean mdns = FALSE;

    g_ptr_array_add (argv, g_strdup (binary));
    g_ptr_array_add (argv, g_strdup ("serve"));
    g_ptr_array_add (argv, g_strdup ("--games"));
    g_ptr_array_add (argv, g_strdup (peer->games));
    g_ptr_array_add (argv, g_strdup ("--state-dir"));
    g_ptr_array_add (argv, g_build_filename (peer->games, ".peer-state", NULL));
    for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
      {
        if (strcmp (extra[i], "mdns") == 0)
          mdns = TRUE;
        else if (strcmp (extra[i], "german") == 0)
          lsp_test_launcher_set_german (launcher);
        else if (strcmp (extra[i], "no-avahi") == 0)
          {
            /* mDNS asked for, but no system bus to reach avahi-daemon by. */
            mdns = TRUE;
            g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent", TRUE);
          }
        else
          g_ptr_array_add (argv, g_strdup (extra[i]));
      }
    if (!mdns)
      g_ptr_array_add (argv, g_strdup ("--no-mdns"));
    g_ptr_array_add (argv, NULL);
    peer->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  }
  g_assert_no_error (error);
  peer->stdin_pipe = g_object_ref (g_subprocess_get_stdin_pipe (peer->process));
  peer->events = g_data_input_stream_new (g_subprocess_get_stdout_pipe (peer->process));
}

void
peer_start (Peer       *peer,
            const char *crash_at)
{
  peer_start_with (peer, crash_at, NULL);
}

void
peer_send (Peer       *peer,
           const char *command)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_strconcat (command, "\n", NULL);

  g_output_stream_write_all (peer->stdin_pipe, line, strlen (line), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_flush (peer->stdin_pipe, NULL, &error);
  g_assert_no_error (error);
}

/* Reads events until one named `name` arrives; returns NULL at the end of
 * the stream. The test's timeout guards against a peer that goes quiet. */
JsonObject *
peer_expect (Peer       *peer,
             const char *name)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autofree char *line = g_data_input_stream_read_line_utf8 (peer->events, NULL, NULL, &error);
      JsonObject *object;

      g_assert_no_error (error);
      if (line == NULL)
        return NULL;
      g_test_message ("event: %s", line);

      json_parser_load_from_data (parser, line, -1, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
      object = json_node_get_object (json_parser_get_root (parser));
      g_assert_true (json_object_has_member (object, "event"));
      if (strcmp (json_object_get_string_member (object, "event"), name) == 0)
        return json_object_ref (object);
      if (strcmp (json_object_get_string_member (object, "event"), "error") == 0)
        g_error ("waiting for “%s”, the peer answered: %s", name, line);
    }
}

void
peer_expect_ok (Peer       *peer,
                const char *name)
{
  JsonObject *object = peer_expect (peer, name);

  if (object == NULL)
    g_error ("the peer ended before sending “%s”", name);
  json_object_unref (object);
}

void
peer_close (Peer *peer)
{
  g_clear_object (&peer->events);
  g_clear_object (&peer->stdin_pipe);
  g_clear_object (&peer->process);
}

void
peer_quit (Peer *peer)
{
  g_autoptr(GError) error = NULL;

  peer_send (peer, "quit");
  g_assert_null (peer_expect (peer, "never"));
  g_subprocess_wait_check (peer->process, NULL, &error);
  g_assert_no_error (error);
  peer_close (peer);
}

void
make_game (Peer *peer)
{
  const LspTestEntry a[] = {
    { "bin/" GAME, 'f', "#!/bin/sh\necho playing >&2\nexit 7\n", 0755 },
    { "data/one.dat", 'f', "one", 0 },
  };
  const LspTestEntry b[] = {
    { "data/two.dat", 'f', "two", 0 },
  };
  const char *format = lsp_test_archive_format_supported ("tar.zst") ? "tar.zst" : "tar";
  g_autofree char *a_path = g_build_filename (peer->games, GAME, "a.eti", NULL);
  g_autofree char *b_path = g_build_filename (peer->games, GAME, "b.eti", NULL);
  g_autofree char *version = g_build_filename (peer->games, GAME, LSP_VERSION_FILE, NULL);
  g_autofree char *catalog = g_build_filename (peer->games, "catalog.json", NULL);
  static const char * const ids[] = { GAME, "game2", NULL };

  lsp_test_write_archive (a_path, format, a, G_N_ELEMENTS (a));
  lsp_test_write_archive (b_path, "zip", b, G_N_ELEMENTS (b));
  lsp_test_write_file (version, "1.0", -1);
  lsp_test_write_catalog (catalog, ids);
}

void
setup (Peer          *peer,
       gconstpointer  data)
{
  peer->games = lsp_test_make_temp_dir ();
  make_game (peer);
}

void
teardown (Peer          *peer,
          gconstpointer  data)
{
  peer_close (peer);
  lsp_test_remove_tree (peer->games);
  g_free (peer->games);
}

char *
expect_ready (Peer *peer,
              guint *port)
{
  JsonObject *ready = peer_expect (peer, "ready");
  char *peer_id;

  g_assert_nonnull (ready);
  peer_id = g_strdup (json_object_get_string_member (ready, "peer_id"));
  if (port != NULL)
    *port = (guint) json_object_get_int_member (ready, "port");
  json_object_unref (ready);
  return peer_id;
}

void
expect_peer_added (Peer       *peer,
                   const char *peer_id)
{
  /* Other tests may run peers on the same loopback avahi at the same
   * time: only peer_id's arrival counts. */
  for (;;)
    {
      JsonObject *event = peer_expect (peer, "peer-added");
      JsonObject *added;
      gboolean found;

      g_assert_nonnull (event);
      added = json_object_get_object_member (event, "peer");
      found = g_strcmp0 (json_object_get_string_member (added, "peer_id"), peer_id) == 0;
      json_object_unref (event);
      if (found)
        return;
    }
}

/* Waits for a peer-games-changed event of peer_id naming game_id. */
void
expect_peer_game (Peer       *peer,
                  const char *peer_id,
                  const char *game_id,
                  const char *list)
{
  for (;;)
    {
      JsonObject *event = peer_expect (peer, "peer-games-changed");
      JsonArray *ids;

      g_assert_nonnull (event);
      ids = json_object_get_array_member (event, list);
      for (guint i = 0; i < json_array_get_length (ids); i++)
        {
          if (strcmp (json_array_get_string_element (ids, i), game_id) == 0 &&
              strcmp (json_object_get_string_member (event, "peer_id"), peer_id) == 0)
            {
              json_object_unref (event);
              return;
            }
        }
      json_object_unref (event);
    }
}

