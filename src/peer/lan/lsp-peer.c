#define G_LOG_DOMAIN "lsp-peer"

#include "config.h"

#include "lsp-peer.h"

#include <string.h>

struct _LspPeer
{
  GObject     parent_instance;

  char       *id;
  char       *hostname;
  char       *address;      /* listener "host:port", never a source port */
  char       *known_as;     /* the name it gave in an earlier session; NULL the first time */
  gboolean    connected;
  gint64      last_seen;    /* monotonic µs */

  gboolean    has_library;
  guint64     library_rev;
  char       *library_digest;
  GHashTable *games;        /* id → LspGameSummary */
  GHashTable *held;         /* id → HeldChunks: what it serves of a download in progress */

  guint       n_snapshots;
  guint       n_deltas;
};

G_DEFINE_FINAL_TYPE (LspPeer, lsp_peer, G_TYPE_OBJECT)

typedef struct
{
  char    *manifest_hash;
  guint    chunk_count;
  guint    n_held;
  guint8  *bitmap;
} HeldChunks;

static void
held_chunks_free (HeldChunks *held)
{
  g_free (held->manifest_hash);
  g_free (held->bitmap);
  g_free (held);
}

enum {
  PROP_0,
  PROP_ID,
  PROP_HOSTNAME,
  PROP_ADDRESS,
  PROP_CONNECTED,
  PROP_KNOWN_AS,
  PROP_LIBRARY_REV,
  PROP_N_GAMES,
  N_PROPS
};

enum {
  GAMES_CHANGED,
  CHUNKS_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
lsp_peer_finalize (GObject *object)
{
  LspPeer *self = LSP_PEER (object);

  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->hostname, g_free);
  g_clear_pointer (&self->address, g_free);
  g_clear_pointer (&self->known_as, g_free);
  g_clear_pointer (&self->library_digest, g_free);
  g_clear_pointer (&self->games, g_hash_table_unref);
  g_clear_pointer (&self->held, g_hash_table_unref);

  G_OBJECT_CLASS (lsp_peer_parent_class)->finalize (object);
}

static void
lsp_peer_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  LspPeer *self = LSP_PEER (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_HOSTNAME:
      g_value_set_string (value, self->hostname);
      break;
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    case PROP_KNOWN_AS:
      g_value_set_string (value, self->known_as);
      break;
    case PROP_LIBRARY_REV:
      g_value_set_uint64 (value, self->library_rev);
      break;
    case PROP_N_GAMES:
      g_value_set_uint (value, g_hash_table_size (self->games));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lsp_peer_class_init (LspPeerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = lsp_peer_finalize;
  object_class->get_property = lsp_peer_get_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_HOSTNAME] =
    g_param_spec_string ("hostname", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_ADDRESS] =
    g_param_spec_string ("address", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /* Its peer_id is the hash of its key, so a peer known by id was met
   * with this very key before. */
  properties[PROP_KNOWN_AS] =
    g_param_spec_string ("known-as", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_LIBRARY_REV] =
    g_param_spec_uint64 ("library-rev", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_N_GAMES] =
    g_param_spec_uint ("n-games", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LspPeer::games-changed:
   * @changed: ids added or changed
   * @removed: ids gone
   */
  signals[GAMES_CHANGED] =
    g_signal_new ("games-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRV, G_TYPE_STRV);

  /**
   * LspPeer::chunks-changed:
   * @game_id: the game whose chunks it serves while downloading changed
   */
  signals[CHUNKS_CHANGED] =
    g_signal_new ("chunks-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
lsp_peer_init (LspPeer *self)
{
  self->games = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) lsp_game_summary_free);
  self->held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) held_chunks_free);
}

LspPeer *
lsp_peer_new (const char *peer_id)
{
  LspPeer *self;

  g_return_val_if_fail (lsp_peer_id_is_valid (peer_id), NULL);

  self = g_object_new (LSP_TYPE_PEER, NULL);
  self->id = g_strdup (peer_id);
  self->last_seen = g_get_monotonic_time ();
  return self;
}

const char *
lsp_peer_get_id (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), NULL);
  return self->id;
}

const char *
lsp_peer_get_hostname (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), NULL);
  return self->hostname;
}

static void
set_string (LspPeer    *self,
            char      **field,
            const char *value,
            GParamSpec *pspec)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
}

void
lsp_peer_set_hostname (LspPeer    *self,
                       const char *hostname)
{
  g_return_if_fail (LSP_IS_PEER (self));
  set_string (self, &self->hostname, hostname, properties[PROP_HOSTNAME]);
}

const char *
lsp_peer_get_address (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), NULL);
  return self->address;
}

void
lsp_peer_set_address (LspPeer    *self,
                      const char *address)
{
  g_return_if_fail (LSP_IS_PEER (self));
  set_string (self, &self->address, address, properties[PROP_ADDRESS]);
}

gboolean
lsp_peer_get_connected (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), FALSE);
  return self->connected;
}

void
lsp_peer_set_connected (LspPeer  *self,
                        gboolean  connected)
{
  g_return_if_fail (LSP_IS_PEER (self));

  connected = !!connected;
  if (self->connected == connected)
    return;
  self->connected = connected;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
}

const char *
lsp_peer_get_known_as (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), NULL);
  return self->known_as;
}

void
lsp_peer_set_known_as (LspPeer    *self,
                       const char *known_as)
{
  g_return_if_fail (LSP_IS_PEER (self));
  set_string (self, &self->known_as, known_as, properties[PROP_KNOWN_AS]);
}

gint64
lsp_peer_get_last_seen (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), 0);
  return self->last_seen;
}

void
lsp_peer_touch (LspPeer *self)
{
  g_return_if_fail (LSP_IS_PEER (self));
  self->last_seen = g_get_monotonic_time ();
}

gboolean
lsp_peer_get_has_library (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), FALSE);
  return self->has_library;
}

guint64
lsp_peer_get_library_rev (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), 0);
  return self->library_rev;
}

const char *
lsp_peer_get_library_digest (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), NULL);
  return self->library_digest;
}

guint
lsp_peer_get_n_games (LspPeer *self)
{
  g_return_val_if_fail (LSP_IS_PEER (self), 0);
  return g_hash_table_size (self->games);
}

const LspGameSummary *
lsp_peer_lookup_game (LspPeer    *self,
                      const char *game_id)
{
  g_return_val_if_fail (LSP_IS_PEER (self), NULL);
  return g_hash_table_lookup (self->games, game_id);
}

static int
compare_summaries (gconstpointer a,
                   gconstpointer b)
{
  const LspGameSummary *sa = *(const LspGameSummary * const *) a;
  const LspGameSummary *sb = *(const LspGameSummary * const *) b;

  return strcmp (sa->id, sb->id);
}

/* A sorted copy, safe to keep while the peer's library changes. */
GPtrArray *
lsp_peer_dup_games (LspPeer *self)
{
  GPtrArray *games;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (LSP_IS_PEER (self), NULL);

  games = g_ptr_array_new_with_free_func ((GDestroyNotify) lsp_game_summary_free);
  g_hash_table_iter_init (&iter, self->games);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (games, lsp_game_summary_copy (value));
  g_ptr_array_sort (games, compare_summaries);
  return games;
}

static void
emit_games_changed (LspPeer   *self,
                    GPtrArray *changed,
                    GPtrArray *removed,
                    guint      n_games_before)
{
  g_ptr_array_add (changed, NULL);
  g_ptr_array_add (removed, NULL);
  if (changed->len > 1 || removed->len > 1)
    g_signal_emit (self, signals[GAMES_CHANGED], 0, (char **) changed->pdata, (char **) removed->pdata);
  if (n_games_before != g_hash_table_size (self->games))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_GAMES]);
}

static void
set_library_state (LspPeer    *self,
                   guint64     library_rev,
                   const char *library_digest)
{
  gboolean rev_changed = !self->has_library || self->library_rev != library_rev;

  self->has_library = TRUE;
  self->library_rev = library_rev;
  g_free (self->library_digest);
  self->library_digest = g_strdup (library_digest);
  if (rev_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIBRARY_REV]);
}

/* Stores a copy of summary; returns whether anything changed. */
static gboolean
put_game (LspPeer              *self,
          const LspGameSummary *summary)
{
  const LspGameSummary *old = g_hash_table_lookup (self->games, summary->id);
  LspGameSummary *copy;

  if (old != NULL && lsp_game_summary_equal (old, summary))
    return FALSE;
  copy = lsp_game_summary_copy (summary);
  g_hash_table_replace (self->games, copy->id, copy);
  return TRUE;
}

/* Applies a LibrarySnapshot: everything we knew is replaced. */
void
lsp_peer_replace_library (LspPeer    *self,
                          guint64     library_rev,
                          const char *library_digest,
                          GPtrArray  *games)
{
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) incoming = g_hash_table_new (g_str_hash, g_str_equal);
  guint n_before = g_hash_table_size (self->games);
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (LSP_IS_PEER (self));

  for (guint i = 0; i < games->len; i++)
    {
      const LspGameSummary *summary = g_ptr_array_index (games, i);
      g_hash_table_add (incoming, summary->id);
    }

  g_hash_table_iter_init (&iter, self->games);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (!g_hash_table_contains (incoming, key))
        {
          g_ptr_array_add (removed, g_strdup (key));
          g_hash_table_iter_remove (&iter);
        }
    }

  for (guint i = 0; i < games->len; i++)
    {
      const LspGameSummary *summary = g_ptr_array_index (games, i);
      if (put_game (self, summary))
        g_ptr_array_add (changed, g_strdup (summary->id));
    }

  self->n_snapshots++;
  set_library_state (self, library_rev, library_digest);
  emit_games_changed (self, changed, removed, n_before);
}

/* How many games the peer would have after @delta, worked out before
 * anything is applied so that a delta breaking the game limit or its own
 * game_count never touches what we hold. Removals follow additions, as
 * in lsp_peer_apply_delta(). */
guint
lsp_peer_count_after_delta (LspPeer                   *self,
                            const LspLibraryDeltaBody *delta)
{
  g_autoptr(GHashTable) added = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) gone = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *lists[] = { delta->added, delta->updated };
  guint count;

  g_return_val_if_fail (LSP_IS_PEER (self), 0);

  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    {
      for (guint i = 0; lists[l] != NULL && i < lists[l]->len; i++)
        {
          const LspGameSummary *summary = g_ptr_array_index (lists[l], i);
          if (!g_hash_table_contains (self->games, summary->id))
            g_hash_table_add (added, summary->id);
        }
    }
  count = g_hash_table_size (self->games) + g_hash_table_size (added);

  for (guint i = 0; delta->removed != NULL && delta->removed[i] != NULL; i++)
    {
      const char *id = delta->removed[i];

      if (g_hash_table_contains (gone, id))
        continue;
      if (g_hash_table_contains (added, id) || g_hash_table_contains (self->games, id))
        {
          g_hash_table_add (gone, (gpointer) id);
          count--;
        }
    }
  return count;
}

/* Applies a LibraryDelta the sync rules accepted. Summaries are full
 * states, so added and updated are handled alike. */
void
lsp_peer_apply_delta (LspPeer                   *self,
                      const LspLibraryDeltaBody *delta)
{
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  guint n_before = g_hash_table_size (self->games);
  GPtrArray *lists[] = { delta->added, delta->updated };

  g_return_if_fail (LSP_IS_PEER (self));

  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    {
      for (guint i = 0; lists[l] != NULL && i < lists[l]->len; i++)
        {
          const LspGameSummary *summary = g_ptr_array_index (lists[l], i);
          if (put_game (self, summary))
            g_ptr_array_add (changed, g_strdup (summary->id));
        }
    }

  for (guint i = 0; delta->removed != NULL && delta->removed[i] != NULL; i++)
    {
      if (g_hash_table_remove (self->games, delta->removed[i]))
        g_ptr_array_add (removed, g_strdup (delta->removed[i]));
    }

  self->n_deltas++;
  set_library_state (self, delta->to_rev, delta->library_digest);
  emit_games_changed (self, changed, removed, n_before);
}

/* When the peer goes away its games go with it. */
void
lsp_peer_forget_library (LspPeer *self)
{
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  guint n_before = g_hash_table_size (self->games);
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (LSP_IS_PEER (self));

  g_hash_table_iter_init (&iter, self->games);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (removed, g_strdup (key));
  g_hash_table_remove_all (self->games);
  self->has_library = FALSE;
  g_clear_pointer (&self->library_digest, g_free);
  emit_games_changed (self, changed, removed, n_before);
  lsp_peer_forget_chunks (self);
}

static guint
count_bits (const guint8 *bitmap,
            gsize         size)
{
  guint n = 0;

  for (gsize i = 0; i < size; i++)
    n += (guint) __builtin_popcount (bitmap[i]);
  return n;
}

/* A Have from this peer (PROTOCOL.md, "Swarm"). Chunks added to a set we
 * do not know (another manifest, or no bitmap yet) are ignored, and so
 * is a game beyond LSP_PROTO_MAX_HAVE_GAMES: what a peer claims costs us
 * bounded memory. */
void
lsp_peer_apply_have (LspPeer           *self,
                     const LspHaveBody *have)
{
  HeldChunks *held;

  g_return_if_fail (LSP_IS_PEER (self));

  held = g_hash_table_lookup (self->held, have->game_id);
  if (have->bitmap != NULL)
    {
      gsize size;
      const guint8 *bits = g_bytes_get_data (have->bitmap, &size);

      if (have->chunk_count == 0)
        {
          if (!g_hash_table_remove (self->held, have->game_id))
            return;
        }
      else
        {
          if (held == NULL)
            {
              if (g_hash_table_size (self->held) >= LSP_PROTO_MAX_HAVE_GAMES)
                return;
              held = g_new0 (HeldChunks, 1);
              g_hash_table_insert (self->held, g_strdup (have->game_id), held);
            }
          g_free (held->manifest_hash);
          g_free (held->bitmap);
          held->manifest_hash = g_strdup (have->manifest_hash);
          held->chunk_count = have->chunk_count;
          held->bitmap = g_memdup2 (bits, size);
          held->n_held = count_bits (bits, size);
        }
    }
  else
    {
      if (held == NULL || held->chunk_count != have->chunk_count ||
          !g_str_equal (held->manifest_hash, have->manifest_hash))
        return;
      for (guint i = 0; i < have->added->len; i++)
        {
          guint32 index = g_array_index (have->added, guint32, i);
          guint8 bit = (guint8) (1u << (index % 8));

          if ((held->bitmap[index / 8] & bit) == 0)
            {
              held->bitmap[index / 8] |= bit;
              held->n_held++;
            }
        }
    }
  g_signal_emit (self, signals[CHUNKS_CHANGED], 0, have->game_id);
}

/* How many chunks of manifest_hash it serves while downloading game_id. */
guint
lsp_peer_get_n_chunks_held (LspPeer    *self,
                            const char *game_id,
                            const char *manifest_hash)
{
  HeldChunks *held;

  g_return_val_if_fail (LSP_IS_PEER (self), 0);

  held = g_hash_table_lookup (self->held, game_id);
  if (held == NULL || g_strcmp0 (held->manifest_hash, manifest_hash) != 0)
    return 0;
  return held->n_held;
}

/**
 * lsp_peer_peek_chunks_held:
 * @out_chunk_count: (out): the bitmap's number of chunks
 *
 * Returns: (transfer none) (nullable): the bitmap of the chunks of
 * manifest_hash it serves while downloading game_id, valid until the next
 * Have from it is applied (a return to the main loop)
 */
const guint8 *
lsp_peer_peek_chunks_held (LspPeer    *self,
                           const char *game_id,
                           const char *manifest_hash,
                           guint      *out_chunk_count)
{
  HeldChunks *held;

  g_return_val_if_fail (LSP_IS_PEER (self), NULL);

  held = g_hash_table_lookup (self->held, game_id);
  *out_chunk_count = 0;
  if (held == NULL || g_strcmp0 (held->manifest_hash, manifest_hash) != 0)
    return NULL;
  *out_chunk_count = held->chunk_count;
  return held->bitmap;
}

void
lsp_peer_forget_chunks (LspPeer *self)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (LSP_IS_PEER (self));

  g_hash_table_iter_init (&iter, self->held);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));
  g_hash_table_remove_all (self->held);
  for (guint i = 0; i < ids->len; i++)
    g_signal_emit (self, signals[CHUNKS_CHANGED], 0, g_ptr_array_index (ids, i));
}

guint
lsp_peer_get_n_snapshots (LspPeer *self)
{
  return self->n_snapshots;
}

guint
lsp_peer_get_n_deltas (LspPeer *self)
{
  return self->n_deltas;
}
