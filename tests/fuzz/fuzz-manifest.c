/* A manifest as a peer sends it: what is accepted has only safe paths
 * outside the reserved names, consistent sizes and chunk counts, and
 * survives a round trip with the same manifest_hash. */
#include "config.h"

#include "lsp-fuzz.h"

#include "lsp-game-root.h"
#include "lsp-manifest.h"

#include <json-glib/json-glib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(LspManifest) manifest = NULL;
  g_autoptr(LspManifest) again = NULL;
  g_autoptr(JsonNode) node = NULL;
  guint64 total = 0;

  if (!json_parser_load_from_data (parser, (const char *) data, (gssize) size, NULL))
    return 0;
  manifest = lsp_manifest_new_from_json (json_parser_get_root (parser), NULL);
  if (manifest == NULL)
    return 0;

  for (guint i = 0; i < lsp_manifest_get_n_files (manifest); i++)
    {
      const LspManifestFile *file = lsp_manifest_get_file (manifest, i);
      g_autofree char *first = g_strdup (file->path);
      char *slash = strchr (first, '/');

      if (slash != NULL)
        *slash = '\0';
      g_assert_true (lsp_relative_path_is_safe (file->path));
      g_assert_false (lsp_game_child_is_reserved (first));
      g_assert_cmpuint (file->n_chunks, ==,
                        (file->size + LSP_MANIFEST_CHUNK_SIZE - 1) / LSP_MANIFEST_CHUNK_SIZE);
      g_assert_true (lsp_manifest_lookup_file (manifest, file->path) == file);
      total += file->size;
    }
  g_assert_cmpuint (total, ==, lsp_manifest_get_total_size (manifest));

  node = lsp_manifest_to_json (manifest);
  again = lsp_manifest_new_from_json (node, NULL);
  g_assert_nonnull (again);
  g_assert_cmpstr (lsp_manifest_get_hash (again), ==, lsp_manifest_get_hash (manifest));
  return 0;
}
