package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/awstest"
	"github.com/ecsplane/ecsplane/internal/handlererr"
	"github.com/ecsplane/ecsplane/internal/ledger"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// clock is a manually advanced time source shared by goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	l     *ledger.Ledger
	db    *dynamodb.Client
	clock *clock
	table string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := awstest.Moto(t)
	table := awstest.LedgerTable(t, env)
	c := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	db := dynamodb.NewFromConfig(env.Config)
	return &fixture{l: ledger.New(db, table, ledger.WithClock(c.Now)), db: db, clock: c, table: table}
}

func TestDeploymentLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{Service: "web", ImageTag: "v2", ImageDigest: "sha256:aa", PreviousTaskDef: "web:1", ExecutionARN: "arn:exec"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []ledger.Change{
		{To: ledger.StatusInProgress, NewTaskDef: "web:2"},
		{To: ledger.StatusBaking},
		{To: ledger.StatusSucceeded, Reason: "bake passed"},
	}
	for _, c := range steps {
		f.clock.Advance(time.Second)
		if d, err = f.l.Transition(ctx, d, c); err != nil {
			t.Fatalf("to %s: %v", c.To, err)
		}
	}
	got, err := f.l.GetDeployment(ctx, "web", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ledger.StatusSucceeded || got.Version != 4 || got.NewTaskDef != "web:2" || got.PreviousTaskDef != "web:1" || got.Reason != "bake passed" {
		t.Fatalf("deployment = %+v", got)
	}
	var statuses []ledger.Status
	for _, h := range got.History {
		statuses = append(statuses, h.Status)
	}
	want := []ledger.Status{ledger.StatusPending, ledger.StatusInProgress, ledger.StatusBaking, ledger.StatusSucceeded}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Fatalf("history = %v, want %v", statuses, want)
	}
	if !got.History[3].At.After(got.History[0].At) {
		t.Errorf("history timestamps do not advance: %+v", got.History)
	}
}

func TestIllegalTransitionsRefused(t *testing.T) {
	tests := []struct {
		from, to ledger.Status
		legal    bool
	}{
		{ledger.StatusPending, ledger.StatusInProgress, true},
		{ledger.StatusInProgress, ledger.StatusRolledBackByECS, true},
		{ledger.StatusInProgress, ledger.StatusRolledBack, false},
		{ledger.StatusRollingBack, ledger.StatusRolledBack, true},
		{ledger.StatusPending, ledger.StatusSuperseded, true},
		{ledger.StatusBaking, ledger.StatusRolledBackByECS, false},
		{ledger.StatusSkipped, ledger.StatusInProgress, false},
		{ledger.StatusBaking, ledger.StatusRollingBack, true},
		{ledger.StatusSucceeded, ledger.StatusInProgress, false},
		{ledger.StatusRolledBack, ledger.StatusSucceeded, false},
		{ledger.StatusPending, ledger.StatusSucceeded, false},
		{ledger.StatusFailed, ledger.StatusPending, false},
		{ledger.StatusInProgress, ledger.StatusSucceeded, false},
	}
	for _, tt := range tests {
		if got := ledger.CanTransition(tt.from, tt.to); got != tt.legal {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.legal)
		}
	}

	f := newFixture(t)
	ctx := context.Background()
	d, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{Service: "web", ImageDigest: "sha256:bb"})
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []ledger.Status{ledger.StatusInProgress, ledger.StatusBaking, ledger.StatusSucceeded} {
		if d, err = f.l.Transition(ctx, d, ledger.Change{To: to}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.l.Transition(ctx, d, ledger.Change{To: ledger.StatusInProgress})
	var illegal *ledger.IllegalTransitionError
	if !errors.As(err, &illegal) || illegal.From != ledger.StatusSucceeded {
		t.Fatalf("SUCCEEDED → IN_PROGRESS: err = %v, want IllegalTransitionError", err)
	}
	got, _ := f.l.GetDeployment(ctx, "web", d.ID)
	if got.Status != ledger.StatusSucceeded || got.Version != 4 {
		t.Fatalf("refused transition changed the item: %+v", got)
	}
}

func TestConcurrentTransitionIsStale(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{Service: "web", ImageDigest: "sha256:cc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Transition(ctx, d, ledger.Change{To: ledger.StatusInProgress}); err != nil {
		t.Fatal(err)
	}
	// d is now a stale copy: same status and version as before the move.
	if _, err := f.l.Transition(ctx, d, ledger.Change{To: ledger.StatusFailed}); !errors.Is(err, ledger.ErrStale) {
		t.Fatalf("stale transition: err = %v, want ErrStale", err)
	}
}

func TestHistoryPagination(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const n = 125
	created := map[string]bool{}
	for i := 0; i < n; i++ {
		f.clock.Advance(time.Millisecond)
		d, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{Service: "web", ImageTag: fmt.Sprintf("v%d", i), ImageDigest: fmt.Sprintf("sha256:%03d", i)})
		if err != nil {
			t.Fatal(err)
		}
		created[d.ID] = true
	}
	// Another service's deployments must not leak into the listing.
	if _, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{Service: "api", ImageDigest: "sha256:zz"}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var prev string
	cursor, pages := "", 0
	for {
		ds, next, err := f.l.History(ctx, "web", ledger.PageRequest{Limit: 20, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range ds {
			if seen[d.ID] || !created[d.ID] {
				t.Fatalf("unexpected or repeated deployment %s", d.ID)
			}
			if prev != "" && d.ID >= prev {
				t.Fatalf("not newest first: %s after %s", d.ID, prev)
			}
			seen[d.ID], prev = true, d.ID
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != n {
		t.Fatalf("listed %d deployments, want %d", len(seen), n)
	}
	if pages < 7 {
		t.Fatalf("pages = %d, want at least 7 of 20", pages)
	}
	first, _, err := f.l.History(ctx, "web", ledger.PageRequest{Limit: 1})
	if err != nil || first[0].ImageTag != "v124" {
		t.Fatalf("newest = %+v (%v), want v124", first, err)
	}
	if _, _, err := f.l.History(ctx, "web", ledger.PageRequest{Cursor: "not-a-cursor"}); !errors.Is(err, ledger.ErrBadCursor) {
		t.Fatalf("bad cursor: err = %v", err)
	}
}

func TestLockRaceHasOneWinner(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const racers = 24
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		held    int
		other   []error
	)
	start := make(chan struct{})
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			<-start
			_, err := f.l.Acquire(ctx, "web", ledger.ScopeRevision, owner, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			var lh *ledger.LockHeldError
			switch {
			case err == nil:
				winners = append(winners, owner)
			case errors.As(err, &lh):
				held++
			default:
				other = append(other, err)
			}
		}(fmt.Sprintf("exec-%02d", i))
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("unexpected errors: %v", other)
	}
	if len(winners) != 1 || held != racers-1 {
		t.Fatalf("winners = %v, refused = %d; want exactly one winner", winners, held)
	}
	cur, err := f.l.CurrentLock(ctx, "web", ledger.ScopeRevision)
	if err != nil || cur.Owner != winners[0] || cur.Token != 1 {
		t.Fatalf("current lock = %+v (%v), want %s with token 1", cur, err, winners[0])
	}
}

func TestExpiredLeaseTakenOver(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, err := f.l.Acquire(ctx, "web", ledger.ScopeRevision, "exec-a", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Acquire(ctx, "web", ledger.ScopeRevision, "exec-b", 30*time.Second); err == nil {
		t.Fatal("b took a live lease")
	}
	a, err := f.l.Acquire(ctx, "web", ledger.ScopeRevision, "exec-a", 30*time.Second)
	if err != nil || a.Owner != "exec-a" || a.Token <= first.Token {
		t.Fatalf("owner re-acquire: %+v %v", a, err)
	}

	f.clock.Advance(31 * time.Second)
	b, err := f.l.Acquire(ctx, "web", ledger.ScopeRevision, "exec-b", 30*time.Second)
	if err != nil {
		t.Fatalf("takeover of expired lease: %v", err)
	}
	if b.Token <= a.Token {
		t.Fatalf("fencing token did not grow: a=%d b=%d", a.Token, b.Token)
	}
	if err := f.l.Release(ctx, a); !errors.Is(err, ledger.ErrNotOwner) {
		t.Fatalf("old owner's release: err = %v, want ErrNotOwner", err)
	}
	if _, err := f.l.Renew(ctx, a, time.Minute); !errors.Is(err, ledger.ErrNotOwner) {
		t.Fatalf("old owner's renew: err = %v, want ErrNotOwner", err)
	}
	renewed, err := f.l.Renew(ctx, b, time.Minute)
	if err != nil || !renewed.Expires.Equal(f.clock.Now().Add(time.Minute).Truncate(time.Millisecond)) {
		t.Fatalf("renew by owner: %+v %v", renewed, err)
	}
	if err := f.l.Release(ctx, b); err != nil {
		t.Fatalf("release by owner: %v", err)
	}
	if _, err := f.l.CurrentLock(ctx, "web", ledger.ScopeRevision); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("lock after release: %v, want ErrNotFound", err)
	}
	c, err := f.l.Acquire(ctx, "web", ledger.ScopeRevision, "exec-c", time.Minute)
	if err != nil || c.Token != b.Token+1 {
		t.Fatalf("acquire after release: %+v %v, want token %d", c, err, b.Token+1)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.l.ClaimKey(ctx, "sha256:abc", "exec-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := f.l.ClaimKey(ctx, "sha256:abc", "exec-2", time.Minute)
	var dup *ledger.DuplicateError
	if !errors.As(err, &dup) || dup.Claim.State != ledger.IdemInProgress || dup.Claim.Owner != "exec-1" {
		t.Fatalf("duplicate claim: err = %v", err)
	}
	if err := f.l.CompleteKey(ctx, "sha256:abc", "exec-2", "d-2"); !errors.Is(err, ledger.ErrNotOwner) {
		t.Fatalf("complete by non-owner: %v", err)
	}
	if err := f.l.CompleteKey(ctx, "sha256:abc", "exec-1", "d-1"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	_, err = f.l.ClaimKey(ctx, "sha256:abc", "exec-3", time.Minute)
	if !errors.As(err, &dup) || dup.Claim.State != ledger.IdemCompleted || dup.Claim.Result != "d-1" {
		t.Fatalf("claim of completed key: err = %v", err)
	}

	// An in-progress claim whose owner died can be taken over after expiry.
	if _, err := f.l.ClaimKey(ctx, "evt-1", "exec-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	c, err := f.l.ClaimKey(ctx, "evt-1", "exec-2", time.Minute)
	if err != nil || c.Owner != "exec-2" {
		t.Fatalf("takeover of expired claim: %+v %v", c, err)
	}
}

func TestActionsAreKeptWithoutTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, action := range []string{"scale-out", "evacuate-az", "restore-az"} {
		f.clock.Advance(time.Second)
		if _, err := f.l.RecordAction(ctx, ledger.Action{Subject: "web", Kind: ledger.KindRemediation, Action: action, Outcome: "done", Detail: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	as, _, err := f.l.Actions(ctx, "web", ledger.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 || as[0].Action != "restore-az" || as[2].Action != "scale-out" {
		t.Fatalf("actions = %+v, want newest first", as)
	}
	out, err := f.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(f.table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if _, ok := item[ledger.AttrTTL]; ok {
			t.Fatalf("audit item carries a TTL: %v", item)
		}
	}
	if _, err := f.l.RecordAction(ctx, ledger.Action{Subject: "web"}); err == nil {
		t.Fatal("an action without kind and action was recorded")
	}
}

func TestRecordHandler(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	h := &ledger.RecordHandler{Ledger: f.l, Log: discardLogger()}

	_, err := h.Handle(ctx, json.RawMessage(`{"kind":"nonsense"}`))
	var invalid *handlererr.InvalidInputError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 4 {
		t.Fatalf("invalid request: err = %v, want 4 problems", err)
	}
	if _, err := h.Handle(ctx, json.RawMessage(`{`)); !errors.As(err, &invalid) {
		t.Fatalf("malformed JSON: err = %v", err)
	}
	if out, _ := f.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(f.table)}); len(out.Items) != 0 {
		t.Fatalf("bad input wrote %d items", len(out.Items))
	}

	rec, err := h.Handle(ctx, json.RawMessage(`{"subject":"web-stack","kind":"build","action":"apply","outcome":"FAILED","executionArn":"arn:x",
		"error":{"Error":"NotReadyError","Cause":"nat-1 pending"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Reason != "NotReadyError" || rec.Detail["cause"] != "nat-1 pending" {
		t.Fatalf("recorded = %+v", rec)
	}
	as, _, err := f.l.Actions(ctx, "web-stack", ledger.PageRequest{})
	if err != nil || len(as) != 1 || as[0].ExecutionARN != "arn:x" {
		t.Fatalf("actions = %+v (%v)", as, err)
	}
}

// TestBuildDeploymentsEndOnECSVerdict: a deployment the build started (a
// template change or the service's creation) has no bake, so ECS's verdict
// ends it; a rollout of an image still cannot skip its bake.
func TestBuildDeploymentsEndOnECSVerdict(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		cause string
		legal bool
	}{{ledger.CauseTemplate, true}, {ledger.CauseCreate, true}, {ledger.CauseImage, false}, {"", false}} {
		d, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{Service: "web", Cause: tt.cause, ImageTag: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		if d, err = f.l.Transition(ctx, d, ledger.Change{To: ledger.StatusInProgress}); err != nil {
			t.Fatal(err)
		}
		_, err = f.l.Transition(ctx, d, ledger.Change{To: ledger.StatusSucceeded, Reason: "ECS deployment completed"})
		var illegal *ledger.IllegalTransitionError
		if got := err == nil; got != tt.legal || (!tt.legal && !errors.As(err, &illegal)) {
			t.Errorf("cause %q: IN_PROGRESS → SUCCEEDED gave %v, want legal=%t", tt.cause, err, tt.legal)
		}
	}
	if _, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{Service: "web"}); err == nil {
		t.Error("a deployment without an image was recorded")
	}
}

// TestLeaseScopesAreIndependent is the lease policy: a rollout holds the
// revision scope, remediation the capacity scope, and the two run side by
// side, while a second holder of one scope waits.
func TestLeaseScopesAreIndependent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rev, err := f.l.Acquire(ctx, "web", ledger.ScopeRevision, "rollout-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	capacity, err := f.l.Acquire(ctx, "web", ledger.ScopeCapacity, "remediation-1", time.Minute)
	if err != nil {
		t.Fatalf("the capacity lease while a rollout holds the revision lease: %v", err)
	}
	_, err = f.l.Acquire(ctx, "web", ledger.ScopeRevision, "rollout-2", time.Minute)
	var held *ledger.LockHeldError
	if !errors.As(err, &held) || held.Owner != "rollout-1" || held.Scope != ledger.ScopeRevision {
		t.Fatalf("a second rollout took the revision lease: %v", err)
	}
	if err := f.l.Release(ctx, capacity); err != nil {
		t.Fatal(err)
	}
	if cur, err := f.l.CurrentLock(ctx, "web", ledger.ScopeRevision); err != nil || cur.Owner != "rollout-1" || cur.Scope != ledger.ScopeRevision {
		t.Fatalf("releasing the capacity lease touched the revision lease: %+v %v", cur, err)
	}
	if err := f.l.Release(ctx, rev); err != nil {
		t.Fatal(err)
	}
}

// TestNewestPushWins marks pushes in and out of order: the one pushed last
// stays the newest, whatever order they are marked in.
func TestNewestPushWins(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	mark := func(owner string, at time.Time) *ledger.Newest {
		t.Helper()
		n, err := f.l.MarkNewest(ctx, ledger.Newest{Service: "web", Owner: owner, Digest: "sha256:" + owner, PushedAt: at, DeploymentID: "d-" + owner})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := mark("a", t0); n.Owner != "a" {
		t.Fatalf("first push: newest %+v", n)
	}
	if n := mark("c", t0.Add(2*time.Second)); n.Owner != "c" {
		t.Fatalf("a later push: newest %+v", n)
	}
	if n := mark("b", t0.Add(time.Second)); n.Owner != "c" {
		t.Fatalf("an older push delivered late became the newest: %+v", n)
	}
	if n := mark("d", t0.Add(2*time.Second)); n.Owner != "d" {
		t.Fatalf("of two pushes of the same second, the one marked last is the newest; got %+v", n)
	}
	got, err := f.l.NewestPush(ctx, "web")
	if err != nil || got.Owner != "d" || got.DeploymentID != "d-d" || !got.PushedAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("newest push %+v %v", got, err)
	}
	if _, err := f.l.NewestPush(ctx, "api"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("newest push of a service never pushed: %v", err)
	}
}

// TestWaiters stores, replaces, reads and deletes a step's task token.
func TestWaiters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := ledger.WaitECS("ecs-svc/42")
	if _, err := f.l.GetWaiter(ctx, "web", key); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("waiter before any: %v", err)
	}
	for _, token := range []string{"token-1", "token-2"} {
		if err := f.l.PutWaiter(ctx, ledger.Waiter{Service: "web", Key: key, Token: token, ExecutionARN: "exec-a", DeploymentID: "d1"}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := f.l.GetWaiter(ctx, "web", key)
	if err != nil || w.Token != "token-2" || w.ExecutionARN != "exec-a" || !w.StoredAt.Equal(f.clock.Now()) {
		t.Fatalf("waiter %+v %v, want the retried step's token", w, err)
	}
	if err := f.l.DeleteWaiter(ctx, "web", key, "exec-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.GetWaiter(ctx, "web", key); err != nil {
		t.Fatalf("another execution deleted the waiter: %v", err)
	}
	if err := f.l.DeleteWaiter(ctx, "web", key, "exec-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.GetWaiter(ctx, "web", key); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("waiter after its delete: %v", err)
	}
	if err := f.l.DeleteWaiter(ctx, "web", key, "exec-a"); err != nil {
		t.Fatalf("deleting a waiter twice: %v", err)
	}
}

// TestTimelineAndUpdates records a rollout's phases and fields, without
// and with status changes, and finds the record by its execution.
func TestTimelineAndUpdates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := ledger.DeploymentID(f.clock.Now(), "exec-1")
	d, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{ID: id, Service: "web", ImageDigest: "sha256:aa", ImageTag: "v2", ExecutionARN: "exec-1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{ID: id, Service: "web", ImageDigest: "sha256:aa", ExecutionARN: "exec-1"})
	if err != nil || again.ID != d.ID || again.ImageTag != "v2" {
		t.Fatalf("a retried create: %+v %v, want the first record", again, err)
	}
	if _, err := f.l.CreateDeployment(ctx, ledger.NewDeployment{ID: id, Service: "web", ImageDigest: "sha256:bb", ExecutionARN: "exec-2"}); err == nil {
		t.Fatal("another execution took an existing record's ID")
	}
	f.clock.Advance(time.Second)
	if d, err = f.l.Update(ctx, d, ledger.Change{PreviousTaskDef: "web:1", PreviousDigest: "sha256:00", Phases: []ledger.Phase{{Phase: ledger.PhaseLeaseTaken}}}); err != nil {
		t.Fatal(err)
	}
	stale := *d
	f.clock.Advance(time.Second)
	if _, err = f.l.Update(ctx, d, ledger.Change{To: ledger.StatusInProgress, NewTaskDef: "web:2", ECSDeploymentID: "ecs-svc/1", ServiceDeploymentARN: "arn:sd",
		Phases: []ledger.Phase{{Phase: ledger.PhaseUpdateSent, Detail: "web:2"}}}); err != nil {
		t.Fatal(err)
	}
	// A writer holding the older version is re-read, not lost.
	if d, err = f.l.Update(ctx, &stale, ledger.Change{Phases: []ledger.Phase{{Phase: ledger.PhaseECSCompleted}}}); err != nil {
		t.Fatal(err)
	}
	if d.Status != ledger.StatusInProgress || d.PreviousTaskDef != "web:1" || d.PreviousDigest != "sha256:00" || d.NewTaskDef != "web:2" || d.ECSDeploymentID != "ecs-svc/1" {
		t.Fatalf("record %+v", d)
	}
	var phases []ledger.PhaseName
	for _, p := range d.Timeline {
		phases = append(phases, p.Phase)
	}
	if want := []ledger.PhaseName{ledger.PhaseAccepted, ledger.PhaseLeaseTaken, ledger.PhaseUpdateSent, ledger.PhaseECSCompleted}; fmt.Sprint(phases) != fmt.Sprint(want) {
		t.Fatalf("timeline %v, want %v", phases, want)
	}
	if at, ok := d.At(ledger.PhaseUpdateSent); !ok || !at.Equal(f.clock.Now()) {
		t.Errorf("update-sent at %v, want %v", at, f.clock.Now())
	}
	if d, err = f.l.Update(ctx, d, ledger.Change{To: ledger.StatusRolledBackByECS, Reason: "circuit breaker"}); err != nil {
		t.Fatal(err)
	}
	var illegal *ledger.IllegalTransitionError
	if _, err := f.l.Update(ctx, d, ledger.Change{Phases: []ledger.Phase{{Phase: ledger.PhaseFinished}}}); !errors.As(err, &illegal) {
		t.Fatalf("a change to an ended record: %v", err)
	}
	got, err := f.l.FindByExecution(ctx, "web", "exec-1")
	if err != nil || got.ID != d.ID || got.Status != ledger.StatusRolledBackByECS {
		t.Fatalf("find by execution: %+v %v", got, err)
	}
	if _, err := f.l.FindByExecution(ctx, "web", "exec-9"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("find by an unknown execution: %v", err)
	}
}
