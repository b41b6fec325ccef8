package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// checkPage opens a report page in headless Chromium (Debian's package,
// which scripts/setup.sh installs), fails on any console error or uncaught
// exception, checks that each chart named in want has at least the series
// or lanes listed, and saves a screenshot next to the page, or where
// $ECSPLANE_SCREENSHOT says.
func checkPage(t *testing.T, page string, want map[string][]string) {
	t.Helper()
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (scripts/setup.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, time.Minute)
	defer cancelTimeout()
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console "+string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs), chromedp.WaitVisible(chromedp.CSS("svg.chart"))); err != nil {
		t.Fatalf("opening %s in chromium: %v", page, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][]string](`(() => { const out = {}; for (const svg of document.querySelectorAll("svg.chart")) {
		out[svg.dataset.chart] = [...svg.querySelectorAll("[data-series]")].map(g => g.dataset.series)
			.concat([...svg.querySelectorAll("[data-lane]")].map(g => g.dataset.lane)); } return out; })()`))
	if err != nil {
		t.Fatalf("reading the charts of %s: %v", page, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", page, err)
	}
	mu.Lock()
	if len(problems) > 0 {
		t.Errorf("%s: %s", page, strings.Join(problems, "; "))
	}
	mu.Unlock()
	for chart, series := range want {
		for _, s := range series {
			if !slices.Contains(found[chart], s) {
				t.Errorf("%s: chart %q has %v, want %q among them", page, chart, found[chart], s)
			}
		}
	}
	out := strings.TrimSuffix(page, ".html") + ".png"
	if p := os.Getenv("ECSPLANE_SCREENSHOT"); p != "" {
		out = p
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
}
