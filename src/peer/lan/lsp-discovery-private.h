/* lsp-discovery-private.h: the TXT record reader, shared with the fuzz
 * target that feeds it wire bytes */
#pragma once

#include <avahi-common/strlst.h>
#include <glib.h>

G_BEGIN_DECLS

GHashTable *lsp_discovery_txt_to_table (AvahiStringList *txt);

G_END_DECLS
