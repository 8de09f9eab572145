/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running the integrator's programs: fork/exec with a deadline, in a process
 * group so a timeout ends the whole tree, stdin on a socket so that a child
 * that stops reading gives EPIPE rather than SIGPIPE to the agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

extern char **environ;

struct proc {
	pid_t pid;
	int exited;
	int raw_status;
	int in_fd;             /* our end of the child's stdin, -1 when closed */
	int out_fd;            /* child's stdout, -1 at EOF */
	int err_fd;            /* child's stderr, -1 at EOF */
	long long deadline_ms; /* monotonic; 0: none */
	unsigned timeout_ms;
	char *out;
	size_t out_len, out_max;
	char err_tail[2 * PROC_STDERR_TAIL + 1];
	size_t err_len;
	char *prog;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what is available from one output pipe without blocking. */
static void drain(struct proc *p, int *fd, int is_err)
{
	char buf[4096];

	while (*fd >= 0) {
		ssize_t n = read(*fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			close(*fd);
			*fd = -1;
			return;
		}
		if (!is_err) {
			size_t room = p->out_max - p->out_len;
			size_t take = (size_t)n < room ? (size_t)n : room;
			memcpy(p->out + p->out_len, buf, take);
			p->out_len += take;
			p->out[p->out_len] = '\0';
			continue;
		}
		/* Keep the last PROC_STDERR_TAIL bytes at least: drop the older half when full. */
		const char *src = buf;
		size_t left = (size_t)n;
		while (left > 0) {
			size_t room = 2 * PROC_STDERR_TAIL - p->err_len;
			if (room == 0) {
				memmove(p->err_tail, p->err_tail + PROC_STDERR_TAIL,
				        PROC_STDERR_TAIL);
				p->err_len = PROC_STDERR_TAIL;
				room = PROC_STDERR_TAIL;
			}
			size_t take = left < room ? left : room;
			memcpy(p->err_tail + p->err_len, src, take);
			p->err_len += take;
			src += take;
			left -= take;
		}
		p->err_tail[p->err_len] = '\0';
	}
}

static void reap(struct proc *p, int block)
{
	int st;
	pid_t r;

	if (p->exited || p->pid <= 0)
		return;
	do
		r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == p->pid) {
		p->exited = 1;
		p->raw_status = st;
	}
}

/* Build environ minus the names in add, plus add. */
static char **build_env(const char *const *add)
{
	size_t n_env = 0, n_add = 0, k = 0;
	char **env;

	while (environ != NULL && environ[n_env] != NULL)
		n_env++;
	while (add != NULL && add[n_add] != NULL)
		n_add++;
	env = calloc(n_env + n_add + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n_env; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t name_len = eq != NULL ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int replaced = 0;
		for (size_t j = 0; j < n_add; j++)
			if (strncmp(add[j], environ[i], name_len) == 0 && add[j][name_len] == '=')
				replaced = 1;
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < n_add; j++)
		env[k++] = (char *)add[j];
	env[k] = NULL;
	return env;
}

upk_status proc_start(const struct proc_spec *spec, struct proc **out, struct upk_error *err)
{
	struct proc *p = NULL;
	char **env = NULL;
	int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
	int exec_pipe[2] = {-1, -1};
	int child_in = -1;
	upk_status ret = UPK_OK;
	int exec_errno = 0;
	ssize_t n;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
	p->pid = -1;
	p->in_fd = p->out_fd = p->err_fd = -1;
	p->out_max = spec->stdout_max ? spec->stdout_max : 4096;
	p->out = malloc(p->out_max + 1);
	p->prog = strdup(spec->argv[0]);
	env = build_env(spec->env);
	if (p->out == NULL || p->prog == NULL || env == NULL) {
		ret = upk_error_set(err, UPK_ERR_NOMEM, "out of memory");
		goto out;
	}
	p->out[0] = '\0';
	if (spec->feed_stdin) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "socketpair: %s", strerror(errno));
			goto out;
		}
		child_in = in_pair[1];
	} else {
		child_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (child_in < 0) {
			ret = upk_error_set(err, UPK_ERR_IO, "opening /dev/null: %s",
			                    strerror(errno));
			goto out;
		}
	}
	if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
	    pipe2(exec_pipe, O_CLOEXEC) != 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	p->timeout_ms = spec->timeout_ms;
	if (spec->timeout_ms > 0)
		p->deadline_ms = now_ms() + spec->timeout_ms;
	p->pid = fork();
	if (p->pid < 0) {
		ret = upk_error_set(err, UPK_ERR_IO, "fork for %s: %s", spec->argv[0],
		                    strerror(errno));
		goto out;
	}
	if (p->pid == 0) {
		/* Child: only async-signal-safe calls from here on. */
		sigset_t none;
		int e;

		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(child_in, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0)
			goto child_fail;
		execve(spec->argv[0], (char *const *)spec->argv, env);
	child_fail:
		e = errno;
		if (write(exec_pipe[1], &e, sizeof(e)) < 0) {
			/* nothing more we can do */
		}
		_exit(127);
	}
	/* Also here, so a kill of the group cannot race the child's own setpgid. */
	setpgid(p->pid, p->pid);
	close(exec_pipe[1]);
	exec_pipe[1] = -1;
	do
		n = read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(exec_errno)) {
		reap(p, 1);
		ret = upk_error_set(err, exec_errno == ENOENT ? UPK_ERR_NOT_FOUND : UPK_ERR_IO,
		                    "cannot run %s: %s", spec->argv[0], strerror(exec_errno));
		goto out;
	}
	if (spec->feed_stdin) {
		p->in_fd = in_pair[0];
		in_pair[0] = -1;
		fcntl(p->in_fd, F_SETFL, fcntl(p->in_fd, F_GETFL) | O_NONBLOCK);
	}
	p->out_fd = out_pipe[0];
	p->err_fd = err_pipe[0];
	out_pipe[0] = err_pipe[0] = -1;
	fcntl(p->out_fd, F_SETFL, fcntl(p->out_fd, F_GETFL) | O_NONBLOCK);
	fcntl(p->err_fd, F_SETFL, fcntl(p->err_fd, F_GETFL) | O_NONBLOCK);
	*out = p;
	p = NULL;
out:
	if (in_pair[0] >= 0)
		close(in_pair[0]);
	if (child_in >= 0)
		close(child_in);
	for (int i = 0; i < 2; i++) {
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
		if (exec_pipe[i] >= 0)
			close(exec_pipe[i]);
	}
	free(env);
	proc_free(p);
	return ret;
}

static int timed_out(const struct proc *p)
{
	return p->deadline_ms > 0 && now_ms() >= p->deadline_ms;
}

static int poll_timeout(const struct proc *p, int cap)
{
	long long left;

	if (p->deadline_ms == 0)
		return cap;
	left = p->deadline_ms - now_ms();
	if (left < 0)
		return 0;
	return left < cap ? (int)left : cap;
}

upk_status proc_write(struct proc *p, const void *data, size_t len, struct upk_error *err)
{
	const char *s = data;

	if (p->in_fd < 0)
		return upk_error_set(err, UPK_ERR_IO, "%s: its input is closed", p->prog);
	while (len > 0) {
		struct pollfd fds[3] = {
		    {.fd = p->in_fd, .events = POLLOUT},
		    {.fd = p->out_fd, .events = POLLIN},
		    {.fd = p->err_fd, .events = POLLIN},
		};
		ssize_t n;

		if (timed_out(p))
			return upk_error_set(err, UPK_ERR_IO,
			                     "%s: timed out after %u s reading its input", p->prog,
			                     p->timeout_ms / 1000);
		if (poll(fds, 3, poll_timeout(p, 1000)) < 0 && errno != EINTR)
			return upk_error_set(err, UPK_ERR_IO, "poll: %s", strerror(errno));
		if (fds[1].revents)
			drain(p, &p->out_fd, 0);
		if (fds[2].revents)
			drain(p, &p->err_fd, 1);
		if (!(fds[0].revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		/* MSG_NOSIGNAL: a child that went away must not kill the agent with SIGPIPE. */
		n = send(p->in_fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0)
			return upk_error_set(err, UPK_ERR_IO, "%s stopped reading its input: %s",
			                     p->prog, strerror(errno));
		s += n;
		len -= (size_t)n;
	}
	return UPK_OK;
}

static void kill_group(struct proc *p, int sig)
{
	if (p->pid > 0 && !p->exited)
		kill(-p->pid, sig);
}

upk_status proc_finish(struct proc *p, int *status, struct upk_error *err)
{
	if (p->in_fd >= 0) {
		close(p->in_fd);
		p->in_fd = -1;
	}
	for (;;) {
		struct pollfd fds[2] = {
		    {.fd = p->out_fd, .events = POLLIN},
		    {.fd = p->err_fd, .events = POLLIN},
		};

		reap(p, 0);
		if (p->exited || timed_out(p))
			break;
		/* Short waits: a child can exit while a grandchild keeps our pipes open. */
		if (poll(fds, 2, poll_timeout(p, 50)) > 0) {
			if (fds[0].revents)
				drain(p, &p->out_fd, 0);
			if (fds[1].revents)
				drain(p, &p->err_fd, 1);
		}
	}
	if (!p->exited) {
		long long grace;

		kill_group(p, SIGTERM);
		grace = now_ms() + 2000;
		while (!p->exited && now_ms() < grace) {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
			reap(p, 0);
		}
		kill_group(p, SIGKILL);
		reap(p, 1);
		drain(p, &p->out_fd, 0);
		drain(p, &p->err_fd, 1);
		return upk_error_set(err, UPK_ERR_IO, "%s: timed out after %u s", p->prog,
		                     p->timeout_ms / 1000);
	}
	drain(p, &p->out_fd, 0);
	drain(p, &p->err_fd, 1);
	if (WIFEXITED(p->raw_status))
		*status = WEXITSTATUS(p->raw_status);
	else if (WIFSIGNALED(p->raw_status))
		*status = 128 + WTERMSIG(p->raw_status);
	else
		*status = 255;
	return UPK_OK;
}

const char *proc_stdout(const struct proc *p, size_t *len)
{
	if (len != NULL)
		*len = p->out_len;
	return p->out;
}

const char *proc_stderr_tail(const struct proc *p)
{
	return p->err_tail;
}

void proc_free(struct proc *p)
{
	if (p == NULL)
		return;
	if (p->pid > 0 && !p->exited) {
		kill_group(p, SIGKILL);
		reap(p, 1);
	}
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	free(p->out);
	free(p->prog);
	free(p);
}

upk_status proc_status_error(const struct proc *p, int status, upk_status code,
                             struct upk_error *err, const char *what)
{
	const char *tail = p != NULL ? p->err_tail : "";
	size_t n = strlen(tail);
	const char *start;

	/* The last non-empty line of stderr is usually the reason. */
	while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
		n--;
	start = tail + n;
	while (start > tail && start[-1] != '\n')
		start--;
	if (n == 0)
		return upk_error_set(err, code, "%s: %s %d", what,
		                     status > 128 ? "killed by signal" : "exit status",
		                     status > 128 ? status - 128 : status);
	return upk_error_set(err, code, "%s: %s %d: %.*s", what,
	                     status > 128 ? "killed by signal" : "exit status",
	                     status > 128 ? status - 128 : status, (int)(tail + n - start), start);
}

upk_status proc_run_shell(const char *command, unsigned timeout_ms, const char *const *env,
                          int *status, struct proc **done, struct upk_error *err)
{
	const char *argv[] = {"/bin/sh", "-c", command, NULL};
	struct proc_spec spec = {.argv = argv, .env = env, .timeout_ms = timeout_ms};
	struct proc *p = NULL;
	upk_status ret;

	ret = proc_start(&spec, &p, err);
	if (ret != UPK_OK)
		return ret;
	ret = proc_finish(p, status, err);
	if (ret == UPK_OK && done != NULL) {
		*done = p;
		p = NULL;
	}
	proc_free(p);
	return ret;
}
