#include "util/tw.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "edge/privs.h"

int tw_privs_drop(const char *user, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "user \"%s\" does not exist", user);
		return -ENOENT;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0;
		snprintf(err, errlen, "cannot switch to user \"%s\": not running as root", user);
		return -EPERM;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		goto fail;
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		goto fail;
	cap_t caps = cap_init();
	if (!caps)
		goto fail;
	cap_value_t keep[] = {CAP_NET_BIND_SERVICE};
	if (cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_INHERITABLE, 1, keep, CAP_SET) < 0 || cap_set_proc(caps) < 0) {
		int e = errno;
		cap_free(caps);
		errno = e;
		goto fail;
	}
	cap_free(caps);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) < 0)
		goto fail;
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
fail:;
	int e = errno;
	snprintf(err, errlen, "cannot drop privileges to \"%s\": %s", user, strerror(e));
	return -e;
}
