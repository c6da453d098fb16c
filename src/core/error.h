/* One error vocabulary for the whole project.
 *
 * Functions return 0 (or a byte count) on success and a negative value on failure: either one of
 * the PC_E* codes below or -errno. The PC_ codes sit below -4095 so they never collide with an
 * errno value. Parsers return bytes consumed, PC_AGAIN ("need more input") or PC_EPARSE. */
#ifndef PC_CORE_ERROR_H
#define PC_CORE_ERROR_H

enum pc_error {
	PC_OK = 0,
	PC_AGAIN = -5001,        /* a parser needs more input */
	PC_EPARSE = -5002,       /* malformed input */
	PC_ELIMIT = -5003,       /* a configured bound was exceeded */
	PC_ECONFIG = -5004,      /* invalid configuration */
	PC_EHOST = -5005,        /* a host that cannot be normalised */
	PC_EPATTERN = -5006,     /* an invalid policy pattern */
	PC_EDNS = -5007,         /* name resolution failed (no such name, server failure) */
	PC_EDNS_TIMEOUT = -5008, /* name resolution did not finish before its deadline */
	PC_ECANCELED = -5009,    /* the operation was abandoned by its owner */
	PC_EUNSUPPORTED = -5010, /* valid input this program does not handle */
};

/* A static description of err (a PC_ code or -errno). Never NULL. */
const char *pc_strerror(int err);

#endif
