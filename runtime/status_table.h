/*
 * The text `torus status` prints: a /status.json document (docs/STATUS.md)
 * as a table of shards and a list of executors, plain ASCII apart from the
 * request paths, and those made safe for a terminal.
 */
#ifndef TORUS_STATUS_TABLE_H
#define TORUS_STATUS_TABLE_H

#include <stdio.h>

struct torus_json_value;

/*
 * Writes the document as text to out; `address` (HOST:PORT) names the
 * server in the first line. TORUS_ERROR, writing nothing, when doc does not
 * look like a /status.json document (no version or no shards).
 */
int torus_status_table_write(FILE *out, const struct torus_json_value *doc, const char *address);

/*
 * Copies text into out (size bytes, NUL-terminated) for a terminal: control
 * characters (C0, DEL and C1 such as the 8-bit CSI) and bytes that are not
 * well-formed UTF-8 become '?', so a request path cannot move the cursor or
 * retitle the window; a text longer than max_columns code points is cut
 * with "...". Returns out.
 */
char *torus_status_terminal_text(const char *text, size_t max_columns, char *out, size_t size);

#endif
