/* bench-sync: what peers cost each other.
 *
 * Sync: a new peer learns a 2,000-game library; time and loopback bytes.
 * Idle: 10 peers, all connected and synced, left alone; loopback packets
 * and CPU time per peer per minute. Nothing else should use loopback while
 * it runs: the counters are the interface's. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lsp-fs.h"
#include "lsp-node.h"

typedef struct
{
  guint64 bytes;
  guint64 packets;
} LoopbackCounters;

static LoopbackCounters
read_loopback (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  LoopbackCounters counters = { 0 };

  if (!g_file_get_contents ("/proc/net/dev", &text, NULL, NULL))
    g_error ("Cannot read /proc/net/dev");
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = NULL;
      char *line = g_strstrip (lines[i]);

      if (!g_str_has_prefix (line, "lo:"))
        continue;
      fields = g_strsplit_set (line + 3, " \t", -1);
      for (guint f = 0, n = 0; fields[f] != NULL; f++)
        {
          if (fields[f][0] == '\0')
            continue;
          /* receive: bytes packets …; on loopback what is sent is received. */
          if (n == 0)
            counters.bytes = g_ascii_strtoull (fields[f], NULL, 10);
          else if (n == 1)
            counters.packets = g_ascii_strtoull (fields[f], NULL, 10);
          n++;
        }
    }
  return counters;
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static LspCatalog *
make_catalog (guint n_games)
{
  g_autoptr(GString) json = g_string_new ("{\"games\": [");
  g_autoptr(GError) error = NULL;
  LspCatalog *catalog;

  for (guint i = 0; i < n_games; i++)
    g_string_append_printf (json, "%s{\"id\": \"game-%05u\", \"name\": \"Benchmark Game Number %u\"}",
                            i ? "," : "", i, i);
  g_string_append (json, "]}");
  catalog = lsp_catalog_new_from_data (json->str, json->len, "bench catalog", &error);
  g_assert_no_error (error);
  return catalog;
}

static void
make_games (const char *dir,
            guint       first,
            guint       count)
{
  for (guint i = first; i < first + count; i++)
    {
      g_autofree char *root = g_strdup_printf ("%s/game-%05u", dir, i);
      g_autofree char *archive = g_strdup_printf ("%s/game-%05u.eti", root, i);
      g_autofree char *version = g_build_filename (root, "version.ini", NULL);

      g_mkdir_with_parents (root, 0755);
      g_file_set_contents (archive, "payload", -1, NULL);
      g_file_set_contents (version, "1.0", -1, NULL);
    }
}

static void
on_loaded (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!lsp_library_load_finish (LSP_LIBRARY (object), result, &error))
    g_error ("Cannot load a library: %s", error->message);
  *(gboolean *) user_data = TRUE;
}

static LspNode *
make_node (const char *root,
           const char *name,
           LspCatalog *catalog)
{
  g_autofree char *games = g_build_filename (root, name, "games", NULL);
  g_autofree char *state = g_build_filename (root, name, "state", NULL);
  g_autoptr(GFile) dir = g_file_new_for_path (games);
  g_autoptr(LspLibrary) library = NULL;
  g_autoptr(LspIdentity) identity = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bind = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;
  LspNode *node;

  g_mkdir_with_parents (games, 0755);
  library = lsp_library_new (dir, catalog);
  lsp_library_load_async (library, NULL, on_loaded, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  identity = lsp_identity_load_or_create (state, &error);
  g_assert_no_error (error);
  node = lsp_node_new (library, identity, name);
  if (!lsp_node_start (node, G_INET_SOCKET_ADDRESS (bind), &error))
    g_error ("Cannot start a node: %s", error->message);
  return node;
}

static void
dial (LspNode *from,
      LspNode *to)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, lsp_node_get_port (to));

  lsp_node_add_static_peer (from, G_INET_SOCKET_ADDRESS (address));
}

static gboolean
knows_games (LspNode *viewer,
             LspNode *seen,
             guint    n_games)
{
  LspPeer *peer = lsp_node_lookup_peer (viewer, lsp_node_get_peer_id (seen));
  return peer != NULL && lsp_peer_get_n_games (peer) == n_games;
}

static void
run_until_synced (LspNode **nodes,
                  guint     n_nodes,
                  guint     n_games)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  for (;;)
    {
      gboolean all = TRUE;

      for (guint i = 0; i < n_nodes && all; i++)
        for (guint j = 0; j < n_nodes && all; j++)
          if (i != j && !knows_games (nodes[i], nodes[j], n_games))
            all = FALSE;
      if (all)
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("The peers did not sync within a minute");
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
run_for (guint seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
}

int
main (int    argc,
      char **argv)
{
  guint n_games = argc > 1 ? (guint) atoi (argv[1]) : 2000;
  guint idle_seconds = argc > 2 ? (guint) atoi (argv[2]) : 60;
  g_autofree char *root = g_dir_make_tmp ("lanspread-bench-sync-XXXXXX", NULL);
  g_autoptr(LspCatalog) catalog = make_catalog (n_games);
  LspNode *nodes[10];
  LoopbackCounters before, after;
  double cpu_before;
  gint64 start;

  /* Sync: a new, empty peer learns a big library. */
  {
    g_autofree char *games = g_build_filename (root, "big", "games", NULL);
    g_autoptr(LspNode) big = NULL;
    g_autoptr(LspNode) fresh = NULL;

    make_games (games, 0, n_games);
    big = make_node (root, "big", catalog);
    fresh = make_node (root, "fresh", catalog);
    before = read_loopback ();
    start = g_get_monotonic_time ();
    dial (fresh, big);
    while (!knows_games (fresh, big, n_games))
      g_main_context_iteration (NULL, TRUE);
    after = read_loopback ();
    printf ("sync of a %u-game library to a new peer: %.1f ms, %.1f KiB, %" G_GUINT64_FORMAT " packets on loopback\n",
            n_games, (g_get_monotonic_time () - start) / 1e3,
            (after.bytes - before.bytes) / 1024.0, after.packets - before.packets);
    lsp_node_stop (fresh, "done");
    lsp_node_stop (big, "done");
    run_for (1);
  }

  /* Idle: ten peers that know each other, left alone. */
  for (guint i = 0; i < G_N_ELEMENTS (nodes); i++)
    {
      g_autofree char *name = g_strdup_printf ("idle-%u", i);
      g_autofree char *games = g_build_filename (root, name, "games", NULL);

      make_games (games, i * 20, 20);
      nodes[i] = make_node (root, name, catalog);
    }
  for (guint i = 0; i < G_N_ELEMENTS (nodes); i++)
    for (guint j = i + 1; j < G_N_ELEMENTS (nodes); j++)
      dial (nodes[i], nodes[j]);
  run_until_synced (nodes, G_N_ELEMENTS (nodes), 20);
  run_for (2);

  before = read_loopback ();
  cpu_before = cpu_seconds ();
  run_for (idle_seconds);
  after = read_loopback ();
  printf ("idle, %zu peers fully connected, %u s: %.1f packets and %.1f ms CPU per peer per minute, %.1f KiB in all\n",
          G_N_ELEMENTS (nodes), idle_seconds,
          (after.packets - before.packets) * 60.0 / idle_seconds / G_N_ELEMENTS (nodes),
          (cpu_seconds () - cpu_before) * 1e3 * 60.0 / idle_seconds / G_N_ELEMENTS (nodes),
          (after.bytes - before.bytes) / 1024.0);
  printf ("  (per peer: 9 connections; QUIC keeps each alive with a PING every 10 s and we ping after 15 s of silence)\n");

  for (guint i = 0; i < G_N_ELEMENTS (nodes); i++)
    g_object_unref (nodes[i]);
  {
    int fd = open (g_get_tmp_dir (), O_RDONLY | O_DIRECTORY);
    g_autofree char *name = g_path_get_basename (root);
    lsp_fs_remove_tree_at (fd, name, NULL);
    close (fd);
  }
  return 0;
}
