/* Process logging, after OpenBSD's log.h: a few printf-checked levels, one line each.
 *
 * Lines go to stderr as "portcullis: message" unless a sink is installed (the library API
 * installs one so an embedding program receives the lines instead). pc_log_warn and pc_fatal
 * append ": strerror(errno)". Never called from parsers; they return errors instead. */
#ifndef PC_CORE_LOG_H
#define PC_CORE_LOG_H

#include <stdarg.h>

enum pc_log_level {
	PC_LOG_ERROR = 0,
	PC_LOG_WARN = 1,
	PC_LOG_INFO = 2,
	PC_LOG_DEBUG = 3,
};

typedef void (*pc_log_sink_fn)(void *data, enum pc_log_level level, const char *line);

/* Sets the name prefixed to each line and the most verbose level printed. */
void pc_log_init(const char *progname, enum pc_log_level level);
enum pc_log_level pc_log_level(void);
/* Replaces stderr as the destination (NULL restores stderr). line is valid during the call. */
void pc_log_set_sink(pc_log_sink_fn sink, void *data);

#define PC_PRINTF(a, b) __attribute__((format(printf, a, b)))
void pc_log_warn(const char *fmt, ...) PC_PRINTF(1, 2);
void pc_log_warnx(const char *fmt, ...) PC_PRINTF(1, 2);
void pc_log_info(const char *fmt, ...) PC_PRINTF(1, 2);
void pc_log_debug(const char *fmt, ...) PC_PRINTF(1, 2);
_Noreturn void pc_fatal(const char *fmt, ...) PC_PRINTF(1, 2);
_Noreturn void pc_fatalx(const char *fmt, ...) PC_PRINTF(1, 2);

#endif
