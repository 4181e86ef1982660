/**
 * Preloaded (`node --import`) into a server under test: on SIGUSR2 it leaves a failure that no
 * code path handles — a rejected promise nobody awaits (`STRAY_FAILURE=rejection`) or an exception
 * thrown from a timer (`STRAY_FAILURE=exception`) — to see what the process's last-resort guards do.
 */
process.on('SIGUSR2', () => {
  if (process.env.STRAY_FAILURE === 'exception') {
    setTimeout(() => {
      throw new Error('stray exception left by the test');
    }, 0);
  } else {
    void Promise.reject(new Error('stray rejection left by the test'));
  }
});
