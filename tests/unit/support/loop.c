#include "support/loop.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void on_guard(uv_timer_t *h)
{
	struct pc_test_loop *t = h->data;

	t->expired = true;
	uv_stop(&t->loop);
}

static void on_tick(uv_timer_t *h)
{
	struct pc_test_loop *t = h->data;

	t->ticked = true;
}

int pc_test_loop_init(struct pc_test_loop *t, uint64_t guard_ms)
{
	int rc = uv_loop_init(&t->loop);

	if (rc != 0)
		return rc;
	t->expired = t->ticked = false;
	uv_timer_init(&t->loop, &t->guard);
	uv_timer_init(&t->loop, &t->tick);
	t->guard.data = t;
	t->tick.data = t;
	uv_timer_start(&t->guard, on_guard, guard_ms, 0);
	uv_unref((uv_handle_t *)&t->guard);
	return 0;
}

void pc_test_loop_run_for(struct pc_test_loop *t, uint64_t ms)
{
	t->ticked = false;
	uv_timer_start(&t->tick, on_tick, ms, 0);
	while (!t->ticked && !t->expired)
		uv_run(&t->loop, UV_RUN_ONCE);
	assert_false(t->expired);
}

void pc_test_loop_close(struct pc_test_loop *t)
{
	uv_close((uv_handle_t *)&t->guard, NULL);
	uv_close((uv_handle_t *)&t->tick, NULL);
	for (int i = 0; i < 100 && uv_loop_alive(&t->loop); i++)
		uv_run(&t->loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&t->loop), 0);
}
