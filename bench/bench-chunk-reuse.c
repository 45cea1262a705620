/* What an update reuses with the manifest's fixed 4 MiB chunks, against
 * content-defined chunking (a gear hash, FastCDC-style, without its
 * normalisation), for typical patches of a game's archives. Reuse is the
 * share of the new version's bytes in chunks whose SHA-256 the old version
 * has; chunks never cross files, as in a manifest. Pseudo-random payload
 * (archives hold compressed data), tar-like layout: 512-byte headers, data
 * padded to 512 bytes, entries of 64 KiB to 16 MiB. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "lsp-sha256.h"

#define MIB (1024u * 1024u)
#define ARCHIVE_SIZE (256u * MIB)

typedef struct
{
  const char *name;
  gsize       min, max;
  guint64     mask;      /* 0: fixed chunks of max bytes */
} Chunker;

typedef struct
{
  guint8 *data;
  gsize   size;
} Blob;

static guint64 gear[256];

static gsize
cut (const Chunker *chunker,
     const guint8  *p,
     gsize          n)
{
  guint64 h = 0;
  gsize limit = MIN (n, chunker->max);

  if (chunker->mask == 0 || n <= chunker->min)
    return limit;
  for (gsize i = chunker->min; i < limit; i++)
    {
      h = (h << 1) + gear[p[i]];
      if ((h & chunker->mask) == 0)
        return i + 1;
    }
  return limit;
}

/* Calls back for each chunk of blob; returns the number of chunks. */
static guint
each_chunk (const Chunker *chunker,
            const Blob    *blob,
            void         (*callback) (const guint8 *digest, gsize length, gpointer data),
            gpointer       data)
{
  guint n = 0;

  for (gsize at = 0; at < blob->size; n++)
    {
      gsize length = cut (chunker, blob->data + at, blob->size - at);
      guint8 digest[LSP_SHA256_LEN];

      lsp_sha256_buffer (blob->data + at, length, digest);
      callback (digest, length, data);
      at += length;
    }
  return n;
}

static void
remember (const guint8 *digest,
          gsize         length,
          gpointer      data)
{
  g_hash_table_add (data, g_memdup2 (digest, LSP_SHA256_LEN));
}

typedef struct
{
  GHashTable *old;
  guint64     reused;
} Count;

static void
count (const guint8 *digest,
       gsize         length,
       gpointer      data)
{
  Count *c = data;

  if (g_hash_table_contains (c->old, digest))
    c->reused += length;
}

static double
reuse (const Chunker *chunker,
       const Blob    *old_files,
       guint          n_old,
       const Blob    *new_files,
       guint          n_new,
       guint64       *out_total)
{
  g_autoptr(GHashTable) old = g_hash_table_new_full (lsp_sha256_digest_hash, lsp_sha256_digest_equal, g_free, NULL);
  Count c = { old, 0 };
  guint64 total = 0;

  for (guint i = 0; i < n_old; i++)
    each_chunk (chunker, &old_files[i], remember, old);
  for (guint i = 0; i < n_new; i++)
    {
      each_chunk (chunker, &new_files[i], count, &c);
      total += new_files[i].size;
    }
  *out_total = total;
  return (double) c.reused / (double) total;
}

static void
fill_random (GRand  *rand,
             guint8 *p,
             gsize   n)
{
  for (gsize i = 0; i < n; i += 4)
    {
      guint32 v = g_rand_int (rand);
      memcpy (p + i, &v, MIN (4, n - i));
    }
}

typedef struct
{
  gsize offset;   /* of the header */
  gsize size;     /* of the data */
} Entry;

/* A tar-like archive of about size bytes; its entries in entries. */
static Blob
make_tar (GRand  *rand,
          gsize   size,
          GArray *entries)
{
  Blob blob = { g_malloc (size + 32 * MIB), 0 };

  while (blob.size < size)
    {
      Entry entry = { blob.size, (gsize) g_rand_int_range (rand, 64 * 1024, 16 * MIB) };
      gsize padded = (entry.size + 511) / 512 * 512;

      fill_random (rand, blob.data + blob.size, 512 + padded);
      memset (blob.data + blob.size + 512 + entry.size, 0, padded - entry.size);
      blob.size += 512 + padded;
      g_array_append_val (entries, entry);
    }
  return blob;
}

/* old with the bytes [at, at + remove) replaced by insert fresh bytes. */
static Blob
splice (GRand      *rand,
        const Blob *old,
        gsize       at,
        gsize       remove,
        gsize       insert)
{
  Blob blob = { g_malloc (old->size - remove + insert), old->size - remove + insert };

  memcpy (blob.data, old->data, at);
  fill_random (rand, blob.data + at, insert);
  memcpy (blob.data + at + insert, old->data + at + remove, old->size - at - remove);
  return blob;
}

static const Chunker chunkers[] = {
  { "fixed 4 MiB (manifest)", 0, 4 * MIB, 0 },
  { "CDC avg 1 MiB", 256 * 1024, 8 * MIB, (1u << 20) - 1 },
  { "CDC avg 4 MiB", 1 * MIB, 16 * MIB, (1u << 22) - 1 },
};

static void
report (const char *name,
        const Blob *old_files,
        guint       n_old,
        const Blob *new_files,
        guint       n_new)
{
  g_print ("%-52s", name);
  for (guint i = 0; i < G_N_ELEMENTS (chunkers); i++)
    {
      guint64 total;
      double r = reuse (&chunkers[i], old_files, n_old, new_files, n_new, &total);

      g_print ("  %5.1f%% (%6.1f MiB to fetch)", 100 * r, (1 - r) * (double) total / MIB);
    }
  g_print ("\n");
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (2026);
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  Blob game[4], patched[4], tar, changed;
  const Entry *middle;

  for (guint i = 0; i < G_N_ELEMENTS (gear); i++)
    gear[i] = ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand);

  g_print ("%-52s", "reuse of the new version's bytes");
  for (guint i = 0; i < G_N_ELEMENTS (chunkers); i++)
    g_print ("  %-30s", chunkers[i].name);
  g_print ("\n");

  for (guint i = 0; i < 4; i++)
    {
      game[i].size = ARCHIVE_SIZE;
      game[i].data = g_malloc (ARCHIVE_SIZE);
      fill_random (rand, game[i].data, ARCHIVE_SIZE);
      patched[i] = game[i];
    }
  patched[3].data = g_malloc (ARCHIVE_SIZE);
  fill_random (rand, patched[3].data, ARCHIVE_SIZE);
  report ("1 GiB, four archives, one replaced", game, 4, patched, 4);
  g_free (patched[3].data);
  for (guint i = 0; i < 4; i++)
    g_free (game[i].data);

  tar = make_tar (rand, ARCHIVE_SIZE, entries);
  middle = &g_array_index (entries, Entry, entries->len / 2);

  changed = splice (rand, &tar, middle->offset + 512, middle->size, middle->size);
  report ("tar: a file in the middle changed, same size", &tar, 1, &changed, 1);
  g_free (changed.data);

  changed = splice (rand, &tar, middle->offset + 512, middle->size, middle->size + 100 * 1024);
  report ("tar: a file in the middle grew by 100 KiB", &tar, 1, &changed, 1);
  g_free (changed.data);

  changed = splice (rand, &tar, 0, 0, 512 + 3 * MIB);
  report ("tar: a 3 MiB file added at the start", &tar, 1, &changed, 1);
  g_free (changed.data);

  changed = splice (rand, &tar, tar.size, 0, 512 + 3 * MIB);
  report ("tar: a 3 MiB file added at the end", &tar, 1, &changed, 1);
  g_free (changed.data);

  /* Solid compression (tar.gz): every byte after the change differs. */
  changed = splice (rand, &tar, middle->offset, tar.size - middle->offset, tar.size - middle->offset);
  report ("tar.gz: a file in the middle changed", &tar, 1, &changed, 1);
  g_free (changed.data);

  g_free (tar.data);
  return 0;
}
