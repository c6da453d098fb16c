#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"

static void codes_do_not_collide_with_errno(void **state)
{
	(void)state;
	assert_true(PC_AGAIN < -4095);
	assert_string_equal(pc_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(pc_strerror(PC_EDNS_TIMEOUT), "name resolution timed out");
	assert_string_equal(pc_strerror(-99999), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(codes_do_not_collide_with_errno),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
