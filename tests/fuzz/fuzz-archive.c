/* A game archive (any format libarchive reads) extracted the way an
 * install does: into .local.installing/, then renamed to local/. Whatever
 * the archive holds, nothing may appear outside the folder extracted into,
 * and after a successful extraction no link in it may lead out of it,
 * before or after the rename. */
#include "config.h"

#include "lsp-fuzz.h"

#include "lsp-archive.h"
#include "lsp-game-root.h"

#include <errno.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* A zip bomb is refused by the extractor's own limits; these scale them
 * down, so a fuzzing run neither fills the disk nor takes long meanwhile. */
#define MAX_BYTES   (8u * 1024 * 1024)
#define MAX_ENTRIES 20000

static char *base_path;
static char *games_path;

static void remove_tree (const char *path);

static void
remove_base (void)
{
  remove_tree (base_path);
}

static void
set_up_once (void)
{
  struct rlimit limit = { 16 * 1024 * 1024, 16 * 1024 * 1024 };
  g_autoptr(GError) error = NULL;

  base_path = g_dir_make_tmp ("lanspread-fuzz-archive-XXXXXX", &error);
  g_assert_no_error (error);
  games_path = g_build_filename (base_path, "games", NULL);
  g_assert_cmpint (g_mkdir (games_path, 0755), ==, 0);
  atexit (remove_base);
  signal (SIGXFSZ, SIG_IGN);
  if (getrlimit (RLIMIT_FSIZE, &limit) == 0 && limit.rlim_max > 16 * 1024 * 1024)
    {
      limit.rlim_cur = 16 * 1024 * 1024;
      setrlimit (RLIMIT_FSIZE, &limit);
    }
}

static int
remove_entry (const char        *path,
              const struct stat *st,
              int                flag,
              struct FTW        *ftw)
{
  if (flag == FTW_DP)
    chmod (path, 0755);
  return remove (path) == 0 || errno == ENOENT ? 0 : -1;
}

static int
make_writable (const char        *path,
               const struct stat *st,
               int                flag,
               struct FTW        *ftw)
{
  if (flag == FTW_D)
    chmod (path, 0755);
  return 0;
}

static void
remove_tree (const char *path)
{
  nftw (path, make_writable, 16, FTW_PHYS);
  g_assert_cmpint (nftw (path, remove_entry, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
}

static const char *inside;

static gboolean
is_inside (const char *resolved)
{
  gsize n = strlen (inside);

  return strncmp (resolved, inside, n) == 0 && (resolved[n] == '\0' || resolved[n] == '/');
}

static int
check_entry (const char        *path,
             const struct stat *st,
             int                flag,
             struct FTW        *ftw)
{
  g_autofree char *resolved = NULL;

  if (flag != FTW_SL && flag != FTW_SLN)
    return 0;
  resolved = realpath (path, NULL);
  if (resolved != NULL && !is_inside (resolved))
    g_error ("%s leads out of the install folder, to %s", path, resolved);
  return 0;
}

/* Links are resolved with the folder at each name it takes. */
static void
check_tree (const char *folder)
{
  g_autofree char *resolved = realpath (folder, NULL);

  g_assert_nonnull (resolved);
  inside = resolved;
  g_assert_cmpint (nftw (folder, check_entry, 16, FTW_PHYS), ==, 0);
  inside = NULL;
}

/* Only the game's folder may exist in the games folder, and in it only
 * the folder extracted into. */
static void
check_nothing_else (const char *game_path,
                    const char *expected)
{
  g_autoptr(GDir) games = g_dir_open (games_path, 0, NULL);
  g_autoptr(GDir) game = g_dir_open (game_path, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (games)) != NULL)
    if (strcmp (name, "game") != 0)
      g_error ("the archive wrote %s into the games folder", name);
  while ((name = g_dir_read_name (game)) != NULL)
    if (strcmp (name, expected) != 0)
      g_error ("the archive wrote %s beside %s", name, expected);
}

static void
on_progress (guint64  bytes,
             guint64  entries,
             gpointer user_data)
{
  if (bytes > MAX_BYTES)
    g_cancellable_cancel (user_data);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static gsize initialized;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(LspExtractor) extractor = NULL;
  g_autofree char *game_path = NULL;
  g_autofree char *staging = NULL;
  g_autofree char *local = NULL;
  g_autofree char *archive_path = NULL;
  gboolean ok;
  int fd;

  if (g_once_init_enter (&initialized))
    {
      set_up_once ();
      g_once_init_leave (&initialized, 1);
    }

  game_path = g_build_filename (games_path, "game", NULL);
  staging = g_build_filename (game_path, LSP_LOCAL_INSTALLING_DIR, NULL);
  local = g_build_filename (game_path, LSP_LOCAL_DIR, NULL);
  g_assert_cmpint (g_mkdir_with_parents (staging, 0755), ==, 0);

  fd = memfd_create ("game.eti", MFD_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, size), ==, (gssize) size);
  archive_path = g_strdup_printf ("/proc/self/fd/%d", fd);

  extractor = lsp_extractor_new (staging, NULL);
  g_assert_nonnull (extractor);
  lsp_extractor_set_progress_func (extractor, on_progress, cancellable);
  lsp_extractor_set_entry_limits (extractor, MAX_ENTRIES, MAX_ENTRIES);
  ok = lsp_extractor_add_archive (extractor, archive_path, cancellable, NULL) &&
       lsp_extractor_finish (extractor, NULL);
  g_clear_pointer (&extractor, lsp_extractor_free);
  close (fd);

  /* A failed extraction may leave anything in staging: the install
   * removes it unread. */
  check_nothing_else (game_path, LSP_LOCAL_INSTALLING_DIR);
  if (ok)
    {
      check_tree (staging);
      g_assert_cmpint (g_rename (staging, local), ==, 0);
      check_nothing_else (game_path, LSP_LOCAL_DIR);
      check_tree (local);
    }
  remove_tree (game_path);
  return 0;
}
