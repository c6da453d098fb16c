#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_progname = "portcullis";
static enum pc_log_level log_max = PC_LOG_INFO;
static pc_log_sink_fn log_sink;
static void *log_sink_data;

void pc_log_init(const char *progname, enum pc_log_level level)
{
	if (progname != NULL)
		log_progname = progname;
	log_max = level;
}

enum pc_log_level pc_log_level(void)
{
	return log_max;
}

void pc_log_set_sink(pc_log_sink_fn sink, void *data)
{
	log_sink = sink;
	log_sink_data = data;
}

__attribute__((format(printf, 3, 0))) static void log_emit(enum pc_log_level level, int errnum,
                                                           const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (level > log_max)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (errnum != 0)
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(errnum));
	if (log_sink != NULL) {
		log_sink(log_sink_data, level, line);
		return;
	}
	fprintf(stderr, "%s: %s\n", log_progname, line);
}

#define PC_LOG_FN(name, level, with_errno)                                                         \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		int saved = errno;                                                                 \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_emit(level, with_errno ? saved : 0, fmt, ap);                                  \
		va_end(ap);                                                                        \
		errno = saved;                                                                     \
	}

PC_LOG_FN(pc_log_warn, PC_LOG_WARN, 1)
PC_LOG_FN(pc_log_warnx, PC_LOG_WARN, 0)
PC_LOG_FN(pc_log_info, PC_LOG_INFO, 0)
PC_LOG_FN(pc_log_debug, PC_LOG_DEBUG, 0)

void pc_fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(PC_LOG_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(2);
}

void pc_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(PC_LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(2);
}
