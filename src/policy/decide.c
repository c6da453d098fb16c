#include "policy/decide.h"

#include <errno.h>
#include <stdlib.h>

struct pc_decide_req {
	struct pc_policy *policy; /* a reference held until the answer */
	struct pc_request req;
	struct pc_resolve_req *lookup;
	pc_decide_cb cb;
	void *data;
};

static void on_resolved(void *data, int status, const struct pc_addr_list *addrs)
{
	struct pc_decide_req *dr = data;
	struct pc_decision d;

	pc_policy_complete(dr->policy, &dr->req, status, addrs, &d);
	dr->cb(dr->data, &d);
	pc_policy_unref(dr->policy);
	free(dr);
}

int pc_decide(struct pc_policy *p, struct pc_resolver *r, const struct pc_request *req,
              struct pc_decision *d, pc_decide_cb cb, void *data, struct pc_decide_req **pending)
{
	struct pc_decide_req *dr;
	int rc;

	*pending = NULL;
	if (pc_policy_evaluate(p, req, d) == PC_POLICY_DECIDED)
		return PC_POLICY_DECIDED;
	dr = malloc(sizeof(*dr));
	if (dr == NULL)
		return -ENOMEM;
	dr->policy = pc_policy_ref(p);
	dr->req = *req;
	dr->cb = cb;
	dr->data = data;
	rc = pc_resolve_start(r, req->host.name, PC_POLICY_DNS_TIMEOUT_MS, on_resolved, dr,
	                      &dr->lookup);
	if (rc < 0) {
		pc_policy_unref(dr->policy);
		free(dr);
		return rc;
	}
	*pending = dr;
	return PC_POLICY_NEEDS_DNS;
}

void pc_decide_cancel(struct pc_decide_req *pending)
{
	if (pending == NULL)
		return;
	pc_resolve_cancel(pending->lookup);
	pc_policy_unref(pending->policy);
	free(pending);
}
