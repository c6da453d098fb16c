/* A libuv loop for unit tests whose every wait is bounded: a guard timer stops the loop after
 * the given time (the test then fails on `expired`), and a tick timer lets a test run the loop
 * for a while. Embed struct pc_test_loop in a fixture; the timers are unreferenced or
 * one-shot, so they never keep a loop alive on their own. */
#ifndef PC_TEST_LOOP_H
#define PC_TEST_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct pc_test_loop {
	uv_loop_t loop;
	uv_timer_t guard;
	uv_timer_t tick;
	bool expired; /* the guard fired: the test took too long */
	bool ticked;
};

/* Initialises the loop and starts the guard (guard_ms). Returns 0 or a libuv error. */
int pc_test_loop_init(struct pc_test_loop *t, uint64_t guard_ms);

/* Runs the loop for ms (the guard still applies); fails the test when the guard fires. */
void pc_test_loop_run_for(struct pc_test_loop *t, uint64_t ms);

/* Closes the timers, runs the loop until nothing is left (at most 100 rounds) and closes it;
 * fails the test when the loop cannot be closed (a handle was left open). */
void pc_test_loop_close(struct pc_test_loop *t);

#endif
