/* SOCKS5 wire format: see wire.h and docs/socks.md.
 *
 * Every parser is stateless and looks at bytes in wire order, refusing at the first byte that
 * settles a refusal; so calling it again with more bytes never changes an earlier answer other
 * than PC_AGAIN, and every split of a message gives the same result. */
#include "socks/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/error.h"

/* --- addresses ------------------------------------------------------------------------------ */

/* Fills host from raw address bytes: the address is the value, its text only the inet_ntop
 * rendering (the canonical text pc_host_normalize would give), never parsed back. */
static int host_from_bytes(enum pc_host_kind kind, const uint8_t *a, struct pc_host *host)
{
	int n;
	memset(&host->addr, 0, sizeof(host->addr));
	host->zone[0] = '\0';
	if (kind == PC_HOST_IPV4) {
		host->addr.in.sin_family = AF_INET;
		memcpy(&host->addr.in.sin_addr, a, 4);
	} else {
		host->addr.in6.sin6_family = AF_INET6;
		memcpy(&host->addr.in6.sin6_addr, a, 16);
	}
	n = pc_addr_format(&host->addr.sa, host->name, sizeof(host->name));
	/* Unreachable: an AF_INET/AF_INET6 address without scope always fits 254 bytes. */
	if (n < 0)
		return PC_EPARSE;
	host->kind = kind;
	host->len = (size_t)n;
	return 0;
}

/* ATYP-specific DST.ADDR and DST.PORT at p (avail bytes). Returns the bytes they take,
 * PC_AGAIN, or PC_EPARSE with *rep set. */
static int addr_parse(uint8_t atyp, const uint8_t *p, size_t avail, struct pc_host *host,
                      uint16_t *port, uint8_t *rep)
{
	size_t alen, skip = 0;
	int rc;
	switch (atyp) {
	case PC_SOCKS_ATYP_IPV4:
		alen = 4;
		break;
	case PC_SOCKS_ATYP_IPV6:
		alen = 16;
		break;
	case PC_SOCKS_ATYP_DOMAIN:
		if (avail < 1)
			return PC_AGAIN;
		alen = p[0];
		skip = 1;
		/* RFC 1928 gives no meaning to an empty name; pc_host_normalize refuses it too,
		 * but saying so here refuses it before the rest arrives. */
		if (alen == 0) {
			*rep = PC_SOCKS_REP_GENERAL_FAILURE;
			return PC_EPARSE;
		}
		break;
	default:
		*rep = PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED;
		return PC_EPARSE;
	}
	if (avail < skip + alen + 2)
		return PC_AGAIN;
	if (atyp == PC_SOCKS_ATYP_DOMAIN)
		rc = pc_host_normalize((const char *)p + 1, alen, 0, host) == 0 ? 0 : PC_EPARSE;
	else
		rc = host_from_bytes(atyp == PC_SOCKS_ATYP_IPV4 ? PC_HOST_IPV4 : PC_HOST_IPV6, p,
		                     host);
	if (rc < 0) {
		*rep = PC_SOCKS_REP_GENERAL_FAILURE;
		return rc;
	}
	*port = (uint16_t)(p[skip + alen] << 8 | p[skip + alen + 1]);
	return (int)(skip + alen + 2);
}

/* An address as the builders encode it: ATYP, the address bytes (for a DOMAIN, the name
 * without its length byte), the port in host byte order. */
struct wire_addr {
	uint8_t atyp;
	const void *bytes;
	size_t len;
	uint16_t port;
};

static int wire_addr_from_sockaddr(const union pc_sockaddr *a, struct wire_addr *w)
{
	if (a && a->sa.sa_family == AF_INET) {
		*w = (struct wire_addr){PC_SOCKS_ATYP_IPV4, &a->in.sin_addr, 4,
		                        ntohs(a->in.sin_port)};
		return 0;
	}
	if (a && a->sa.sa_family == AF_INET6) {
		*w = (struct wire_addr){PC_SOCKS_ATYP_IPV6, &a->in6.sin6_addr, 16,
		                        ntohs(a->in6.sin6_port)};
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* Bytes of ATYP + address (+ length byte) + port. */
static size_t wire_addr_size(const struct wire_addr *w)
{
	return 1 + (w->atyp == PC_SOCKS_ATYP_DOMAIN) + w->len + 2;
}

/* Writes head[0..2], the address, then len bytes of data (moved first, since it may sit where
 * the header goes). The whole frame must fit both size and max. Returns its length. */
static int frame_build(uint8_t *buf, size_t size, size_t max, const uint8_t head[3],
                       const struct wire_addr *w, const void *data, size_t len)
{
	size_t hlen = 3 + wire_addr_size(w);
	uint8_t *p;
	if (!buf || (len && !data))
		return -EINVAL;
	if (hlen > size || hlen > max || len > size - hlen || len > max - hlen)
		return -ENOSPC;
	if (len)
		memmove(buf + hlen, data, len);
	memcpy(buf, head, 3);
	p = buf + 3;
	*p++ = w->atyp;
	if (w->atyp == PC_SOCKS_ATYP_DOMAIN)
		*p++ = (uint8_t)w->len;
	memcpy(p, w->bytes, w->len);
	p += w->len;
	*p++ = (uint8_t)(w->port >> 8);
	*p = (uint8_t)w->port;
	return (int)(hlen + len);
}

/* --- negotiation ---------------------------------------------------------------------------- */

/* VER, then a length byte 1..255 and that many bytes: how a greeting (the methods) and an
 * auth request (the user name) begin. Returns 2 + the length, PC_AGAIN or PC_EPARSE. */
static int versioned_field(const uint8_t *buf, size_t len, uint8_t version)
{
	if (len < 1)
		return PC_AGAIN;
	if (buf[0] != version)
		return PC_EPARSE;
	if (len < 2)
		return PC_AGAIN;
	if (buf[1] == 0)
		return PC_EPARSE;
	if (len < 2 + (size_t)buf[1])
		return PC_AGAIN;
	return 2 + buf[1];
}

int pc_socks_greeting_parse(const uint8_t *buf, size_t len, struct pc_socks_greeting *out)
{
	int n;
	if ((!buf && len) || !out)
		return -EINVAL;
	out->methods = 0;
	/* SOCKS4 and 4a requests start with VN 4: told apart so the caller can say why it
	 * closed; there is no SOCKS5 answer a SOCKS4 client would understand. */
	if (len >= 1 && buf[0] == 0x04)
		return PC_EUNSUPPORTED;
	n = versioned_field(buf, len, PC_SOCKS_VERSION);
	for (int i = 2; i < n; i++) {
		if (buf[i] == PC_SOCKS_METHOD_NO_AUTH)
			out->methods |= PC_SOCKS_METHODS_NO_AUTH;
		else if (buf[i] == PC_SOCKS_METHOD_USERPASS)
			out->methods |= PC_SOCKS_METHODS_USERPASS;
	}
	return n;
}

uint8_t pc_socks_choose_method(unsigned offered, unsigned accepted)
{
	unsigned both = offered & accepted;
	if (both & PC_SOCKS_METHODS_USERPASS)
		return PC_SOCKS_METHOD_USERPASS;
	if (both & PC_SOCKS_METHODS_NO_AUTH)
		return PC_SOCKS_METHOD_NO_AUTH;
	return PC_SOCKS_METHOD_NONE_ACCEPTABLE;
}

static int two_bytes(uint8_t *buf, size_t size, uint8_t b0, uint8_t b1)
{
	if (!buf)
		return -EINVAL;
	if (size < 2)
		return -ENOSPC;
	buf[0] = b0;
	buf[1] = b1;
	return 2;
}

int pc_socks_method_build(uint8_t *buf, size_t size, uint8_t method)
{
	return two_bytes(buf, size, PC_SOCKS_VERSION, method);
}

int pc_socks_auth_parse(const uint8_t *buf, size_t len, struct pc_socks_auth *out)
{
	size_t ulen, plen;
	int n;
	if ((!buf && len) || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	n = versioned_field(buf, len, PC_SOCKS_AUTH_VERSION);
	if (n < 0)
		return n;
	ulen = (size_t)n - 2;
	if (len < 3 + ulen)
		return PC_AGAIN;
	/* PLEN 0 is accepted (RFC 1929 draws 1..255): see docs/socks.md. */
	plen = buf[2 + ulen];
	if (len < 3 + ulen + plen)
		return PC_AGAIN;
	out->user = (struct pc_socks_slice){buf + 2, ulen};
	out->pass = (struct pc_socks_slice){buf + 3 + ulen, plen};
	return (int)(3 + ulen + plen);
}

int pc_socks_auth_reply_build(uint8_t *buf, size_t size, uint8_t status)
{
	return two_bytes(buf, size, PC_SOCKS_AUTH_VERSION, status);
}

/* --- requests and replies ------------------------------------------------------------------- */

static int request_parse(const uint8_t *buf, size_t len, struct pc_socks_request *out, uint8_t *rep)
{
	int n;
	*rep = PC_SOCKS_REP_GENERAL_FAILURE;
	if (len < 1)
		return PC_AGAIN;
	if (buf[0] != PC_SOCKS_VERSION)
		return PC_EPARSE;
	if (len < 2)
		return PC_AGAIN;
	/* SPEC §7: BIND, like any command we do not know, is "command not supported". */
	if (buf[1] != PC_SOCKS_CMD_CONNECT && buf[1] != PC_SOCKS_CMD_UDP_ASSOCIATE) {
		*rep = PC_SOCKS_REP_COMMAND_NOT_SUPPORTED;
		return PC_EPARSE;
	}
	out->cmd = buf[1];
	if (len < 3)
		return PC_AGAIN;
	/* A reserved byte that is not zero is a client we do not understand: refuse. */
	if (buf[2] != 0x00)
		return PC_EPARSE;
	if (len < 4)
		return PC_AGAIN;
	out->atyp = buf[3];
	n = addr_parse(buf[3], buf + 4, len - 4, &out->host, &out->port, rep);
	if (n < 0)
		return n;
	/* Port 0 cannot be connected to; for UDP ASSOCIATE it means "not known yet" (RFC 1928
	 * §7: the client sends zeros when it does not know its address and port). */
	if (out->port == 0 && out->cmd == PC_SOCKS_CMD_CONNECT)
		return PC_EPARSE;
	return 4 + n;
}

int pc_socks_request_parse(const uint8_t *buf, size_t len, struct pc_socks_request *out,
                           uint8_t *rep)
{
	uint8_t r = PC_SOCKS_REP_GENERAL_FAILURE;
	int rc = (!buf && len) || !out ? -EINVAL : request_parse(buf, len, out, &r);
	if (rep)
		*rep = rc >= 0 || rc == PC_AGAIN ? PC_SOCKS_REP_SUCCEEDED : r;
	return rc;
}

int pc_socks_reply_build(uint8_t *buf, size_t size, uint8_t rep, const union pc_sockaddr *bnd)
{
	static const uint8_t zero[4];
	const uint8_t head[3] = {PC_SOCKS_VERSION, rep, 0x00};
	struct wire_addr w;
	if (wire_addr_from_sockaddr(bnd, &w) < 0)
		w = (struct wire_addr){PC_SOCKS_ATYP_IPV4, zero, 4, 0};
	return frame_build(buf, size, PC_SOCKS_REPLY_MAX, head, &w, NULL, 0);
}

const char *pc_socks_reply_name(uint8_t rep)
{
	switch (rep) {
#define PC_SOCKS_REPLY_CASE(name, code, text)                                                      \
	case code:                                                                                 \
		return text;
		PC_SOCKS_REPLIES(PC_SOCKS_REPLY_CASE)
#undef PC_SOCKS_REPLY_CASE
	default:
		return "unassigned";
	}
}

uint8_t pc_socks_reply_for_error(int err)
{
	switch (err) {
	case -ECONNREFUSED:
		return PC_SOCKS_REP_CONNECTION_REFUSED;
	case -ETIMEDOUT:
		return PC_SOCKS_REP_TTL_EXPIRED;
	case -ENETUNREACH:
	case -EHOSTUNREACH:
	case PC_EDNS:
	case PC_EDNS_TIMEOUT:
		return PC_SOCKS_REP_HOST_UNREACHABLE;
	default:
		return PC_SOCKS_REP_GENERAL_FAILURE;
	}
}

/* --- UDP ------------------------------------------------------------------------------------ */

int pc_socks_udp_parse(const uint8_t *buf, size_t len, struct pc_socks_udp *out)
{
	uint8_t rep;
	int n;
	if ((!buf && len) || !out)
		return -EINVAL;
	out->frag = 0;
	out->data = (struct pc_socks_slice){NULL, 0};
	if (len < 4 || buf[0] != 0x00 || buf[1] != 0x00)
		return PC_EPARSE;
	out->frag = buf[2];
	out->atyp = buf[3];
	n = addr_parse(buf[3], buf + 4, len - 4, &out->host, &out->port, &rep);
	/* A datagram is whole: what is missing will never arrive. */
	if (n < 0 || out->port == 0)
		return PC_EPARSE;
	n += 4;
	out->data = (struct pc_socks_slice){buf + n, len - (size_t)n};
	return n;
}

static const uint8_t udp_head[3] = {0x00, 0x00, 0x00};

int pc_socks_udp_build(uint8_t *buf, size_t size, const union pc_sockaddr *src, const void *data,
                       size_t len)
{
	struct wire_addr w;
	int rc = wire_addr_from_sockaddr(src, &w);
	if (rc < 0)
		return rc;
	return frame_build(buf, size, PC_SOCKS_UDP_MAX, udp_head, &w, data, len);
}

int pc_socks_udp_build_host(uint8_t *buf, size_t size, const struct pc_host *host, uint16_t port,
                            const void *data, size_t len)
{
	struct wire_addr w;
	if (!host)
		return -EINVAL;
	if (host->kind == PC_HOST_NAME) {
		if (host->len == 0 || host->len > 255)
			return -EINVAL;
		w = (struct wire_addr){PC_SOCKS_ATYP_DOMAIN, host->name, host->len, port};
	} else if (host->kind == PC_HOST_IPV4 || host->kind == PC_HOST_IPV6) {
		int rc = wire_addr_from_sockaddr(&host->addr, &w);
		if (rc < 0)
			return rc;
		w.port = port;
	} else {
		return -EINVAL;
	}
	return frame_build(buf, size, PC_SOCKS_UDP_MAX, udp_head, &w, data, len);
}

int pc_socks_udp_header_len(const union pc_sockaddr *src)
{
	struct wire_addr w;
	int rc = wire_addr_from_sockaddr(src, &w);
	return rc < 0 ? rc : (int)(3 + wire_addr_size(&w));
}
