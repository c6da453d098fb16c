#include "core/error.h"

#include <string.h>

const char *pc_strerror(int err)
{
	switch (err) {
	case PC_OK:
		return "success";
	case PC_AGAIN:
		return "incomplete input";
	case PC_EPARSE:
		return "malformed input";
	case PC_ELIMIT:
		return "limit exceeded";
	case PC_ECONFIG:
		return "invalid configuration";
	case PC_EHOST:
		return "invalid host";
	case PC_EPATTERN:
		return "invalid pattern";
	case PC_EDNS:
		return "name resolution failed";
	case PC_EDNS_TIMEOUT:
		return "name resolution timed out";
	case PC_ECANCELED:
		return "canceled";
	case PC_EUNSUPPORTED:
		return "not supported";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}
