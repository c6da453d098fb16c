/* Deciding a request end to end: the policy steps, and the lookup when step 5 needs one.
 *
 * The one entry point every front end (HTTP, CONNECT, SOCKS, check) uses. A decision that
 * needs no lookup is returned at once; otherwise the request waits for the resolver (with the
 * policy's deadline) holding a reference to the policy generation it started with, so a reload
 * meanwhile does not change the rules it is judged by. */
#ifndef PC_POLICY_DECIDE_H
#define PC_POLICY_DECIDE_H

#include "net/resolve.h"
#include "policy/policy.h"

struct pc_decide_req;

/* Called once with the finished decision, unless cancelled first. d is valid during the call. */
typedef void (*pc_decide_cb)(void *data, const struct pc_decision *d);

/* Decides req under p. Returns PC_POLICY_DECIDED with *d filled (cb is not called), or
 * PC_POLICY_NEEDS_DNS: the lookup is under way, *pending identifies it and cb will receive the
 * decision; or a negative error (-ENOMEM, or the resolver's), in which case the caller must
 * fail closed. req is copied; req->method must stay valid until cb or cancel. */
int pc_decide(struct pc_policy *p, struct pc_resolver *r, const struct pc_request *req,
              struct pc_decision *d, pc_decide_cb cb, void *data, struct pc_decide_req **pending);

/* Abandons a pending decision: cb will not be called. */
void pc_decide_cancel(struct pc_decide_req *pending);

#endif
