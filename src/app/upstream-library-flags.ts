import { atLeast, klogModuleSpec, klogSeverity, klogTraceLocation } from './flag-checks.js';
import type { FlagDefinition } from './flags.js';

/**
 * Why klog's output flags change nothing: the upstream driver (v1.6.0) also registers them
 * (`klog.InitFlags`), but then hands klog a logger of its own that writes every line to stderr, so
 * there too they have no effect. Here every line goes to stderr as well.
 */
const KLOG_OUTPUT_IGNORED = 'logs always go to stderr (as the upstream driver\'s, whose logger replaces klog\'s output)';

/**
 * The flags the upstream driver's libraries add to Go's default flag set, with their defaults and value
 * syntax: klog v2.120.1's (`klog.InitFlags`; `-v` is a driver flag here) and net/http/httptest's test hook
 * (controller-runtime's `--kubeconfig` is a driver flag too). Accepted so that a DaemonSet written for the
 * upstream driver starts; none changes what this driver does.
 */
export const UPSTREAM_LIBRARY_FLAGS: readonly FlagDefinition[] = [
  { name: 'add_dir_header', kind: 'bool', default: false, help: 'klog: add the file directory to the log header (no effect here)', ignored: KLOG_OUTPUT_IGNORED },
  { name: 'alsologtostderr', kind: 'bool', default: false, help: 'klog: log to standard error as well as files (no effect here)', ignored: KLOG_OUTPUT_IGNORED },
  { name: 'log_backtrace_at', kind: 'string', default: '', check: klogTraceLocation, help: 'klog: when logging hits line file:N, emit a stack trace (no effect here)', ignored: KLOG_OUTPUT_IGNORED },
  { name: 'log_dir', kind: 'string', default: '', help: 'klog: write log files in this directory (no effect here)', ignored: KLOG_OUTPUT_IGNORED },
  { name: 'log_file', kind: 'string', default: '', help: 'klog: write logs to this file (no effect here)', ignored: KLOG_OUTPUT_IGNORED },
  {
    name: 'log_file_max_size',
    kind: 'int',
    default: 1800,
    check: atLeast(0, 'a size in megabytes'),
    help: 'klog: largest log file, in megabytes (no effect here)',
    ignored: KLOG_OUTPUT_IGNORED,
  },
  { name: 'logtostderr', kind: 'bool', default: true, help: 'klog: log to standard error instead of files (always the case here)', ignored: KLOG_OUTPUT_IGNORED },
  { name: 'one_output', kind: 'bool', default: false, help: 'klog: write each line only to its own severity\'s file (no effect here)', ignored: KLOG_OUTPUT_IGNORED },
  { name: 'skip_headers', kind: 'bool', default: false, help: 'klog: leave the header out of log lines (no effect here)', ignored: KLOG_OUTPUT_IGNORED },
  { name: 'skip_log_headers', kind: 'bool', default: false, help: 'klog: leave headers out of new log files (no effect here)', ignored: KLOG_OUTPUT_IGNORED },
  {
    name: 'stderrthreshold',
    kind: 'string',
    default: '2',
    check: klogSeverity,
    help: 'klog: lines at or above this severity go to stderr when logging to files (no effect here)',
    ignored: KLOG_OUTPUT_IGNORED,
  },
  {
    name: 'vmodule',
    kind: 'string',
    default: '',
    check: klogModuleSpec,
    help: 'klog: per-file verbosity as pattern=N,... (no effect here: -v applies to every line)',
    ignored: 'the log verbosity is -v for every line (the upstream driver\'s logger also filters by -v alone)',
  },
  {
    name: 'httptest.serve',
    kind: 'string',
    default: '',
    hidden: true,
    help: 'Go test hook the upstream driver registers only when it is on the command line',
    ignored: 'a test hook of Go\'s net/http/httptest, not a driver setting',
  },
];
