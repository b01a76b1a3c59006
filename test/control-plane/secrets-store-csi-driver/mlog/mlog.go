// Package mlog stands in for monis.app/mlog v0.0.2 when the upstream Secrets Store CSI Driver is built as a
// test peer: the Go module proxy refuses to serve that module, so the wrapper modules replace it with this
// one. It provides only what upstream's cmd/secrets-store-csi-driver/main.go, pkg/secrets-store/server.go and
// (v1.4.x) pkg/rotation/reconciler.go call, implemented on klog, which upstream already configures through its
// own flags (klog.InitFlags). It registers no flags, so the peer's flag set is upstream's own.
package mlog

import (
	"context"
	"fmt"
	"os"

	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
)

// Format selects how log lines are written.
type Format string

const (
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// Setup returns the function to defer in main: it flushes what klog still buffers.
func Setup() func() {
	return klog.Flush
}

// ValidateAndSetKlogLevelAndFormatGlobally checks the verbosity read back from klog and, for FormatJSON,
// routes klog through a JSON logger of the same verbosity.
func ValidateAndSetKlogLevelAndFormatGlobally(_ context.Context, level klog.Level, format Format) error {
	if level < 0 {
		return fmt.Errorf("invalid log level %d", level)
	}
	switch format {
	case FormatText:
		return nil
	case FormatJSON:
		klog.SetLogger(funcr.NewJSON(func(line string) { fmt.Fprintln(os.Stderr, line) }, funcr.Options{Verbosity: int(level)}))
		return nil
	default:
		return fmt.Errorf("unknown log format %q", format)
	}
}

// Error logs err with msg and key/value pairs.
func Error(msg string, err error, keysAndValues ...any) {
	klog.ErrorS(err, msg, keysAndValues...)
}

// Fatal logs err, flushes and exits with status 1.
func Fatal(err error, keysAndValues ...any) {
	klog.ErrorS(err, "fatal error", keysAndValues...)
	klog.Flush()
	os.Exit(1)
}
