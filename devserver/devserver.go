// Package devserver runs a complete Temporal server inside the Loomcast
// process for `loomcast dev`: all four services on SQLite (a file with WAL
// on, one history shard), the frontend on a fixed address so that ordinary
// clients and the Temporal CLI can connect, and optionally the Temporal Web
// UI. It is the only package that imports the Temporal server; keep it that
// way, since the server takes minutes to compile.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Options configure the embedded server.
type Options struct {
	// DatabaseFile is the SQLite file; its directory must exist. Empty keeps
	// everything in memory.
	DatabaseFile string
	// Address is host:port of the frontend, e.g. 127.0.0.1:7233.
	Address string
	// Namespace is created at start if missing.
	Namespace string
	// Retention is how long closed workflow histories are kept.
	Retention time.Duration
	// SearchAttributes are registered in the namespace at start.
	SearchAttributes map[string]enumspb.IndexedValueType
	// UIAddress, when set, serves the Temporal Web UI there.
	UIAddress string
	// Logger receives the server's warnings and errors.
	Logger *slog.Logger
}

// Server is a running embedded Temporal server.
type Server struct {
	server temporal.Server
	ui     *uiserver.Server
	// uiFront is the proxy before the UI that checks the Host header.
	uiFront *http.Server
	address string
}

const clusterName = "active"

// Start starts the server and returns once its frontend accepts calls and
// the namespace with its search attributes is in place.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Logger == nil {
		return nil, errors.New("devserver: a logger is required")
	}
	host, portStr, err := net.SplitHostPort(o.Address)
	if err != nil {
		return nil, fmt.Errorf("devserver: address %q: %w", o.Address, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("devserver: port %q: %w", portStr, err)
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Retention == 0 {
		o.Retention = 24 * time.Hour
	}
	httpPort, err := freePort(host)
	if err != nil {
		return nil, err
	}
	sqlConf, err := sqlConfig(o)
	if err != nil {
		return nil, err
	}
	conf, err := serverConfig(host, port, httpPort, sqlConf)
	if err != nil {
		return nil, err
	}
	logger := &slogAdapter{l: o.Logger.With(slog.String("system", "temporal-server"))}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(host, strconv.Itoa(svc.RPC.GRPCPort)))
	}
	dyn := dynamicconfig.StaticClient{
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 200,
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8192,
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start: %w", err)
	}
	s := &Server{server: srv, address: o.Address}
	if err := s.prepareNamespace(ctx, o); err != nil {
		s.Stop()
		return nil, err
	}
	if o.UIAddress != "" {
		if err := s.startUI(o); err != nil {
			o.Logger.Warn("temporal web ui not started", slog.String("error", err.Error()))
		}
	}
	return s, nil
}

// Address is the frontend's host:port.
func (s *Server) Address() string { return s.address }

// Stop stops the UI and the server.
func (s *Server) Stop() {
	if s.uiFront != nil {
		_ = s.uiFront.Close()
	}
	if s.ui != nil {
		s.ui.Stop()
	}
	// Stopping is best effort: every acknowledged write is already on disk.
	_ = s.server.Stop()
}

func sqlConfig(o Options) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.DatabaseFile == "" {
		conf.DatabaseName = "loomcast-temporal-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	} else {
		conf.DatabaseName = o.DatabaseFile
		conf.ConnectAttributes = map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"busy_timeout": "10000",
			"synchronous":  "NORMAL",
		}
		// One connection: with several, WAL read transactions that turn into
		// writes fail with SQLITE_BUSY_SNAPSHOT and are retried, adding latency.
		conf.MaxConns, conf.MaxIdleConns = 1, 1
		if _, err := os.Stat(o.DatabaseFile); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(o.DatabaseFile), 0o700); err != nil {
				return nil, fmt.Errorf("devserver: create data directory: %w", err)
			}
			if err := sqliteschema.SetupSchema(conf); err != nil {
				return nil, fmt.Errorf("devserver: create schema: %w", err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, o.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("devserver: create namespace: %w", err)
	}
	return conf, nil
}

func serverConfig(host string, port, httpPort int, sqlConf *config.SQL) (*config.Config, error) {
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = host
	conf.Persistence.DefaultStore = "sqlite"
	conf.Persistence.VisibilityStore = "sqlite"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlConf}}
	frontend := net.JoinHostPort(host, strconv.Itoa(port))
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
			Enabled:                true,
			InitialFailoverVersion: 1,
			RPCAddress:             frontend,
			HTTPAddress:            net.JoinHostPort(host, strconv.Itoa(httpPort)),
			ClusterID:              "loomcast-dev",
		}},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		var svc config.Service
		svc.RPC.BindOnIP = host
		if name == "frontend" {
			svc.RPC.GRPCPort, svc.RPC.HTTPPort = port, httpPort
		} else {
			p, err := freePort(host)
			if err != nil {
				return nil, err
			}
			svc.RPC.GRPCPort = p
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return conf, nil
}

// prepareNamespace waits for the frontend, then makes sure the namespace has
// our retention and every search attribute (a database made by an older
// Loomcast may lack newer ones).
func (s *Server) prepareNamespace(ctx context.Context, o Options) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := sdkclient.DialContext(ctx, sdkclient.Options{HostPort: o.Address, Namespace: o.Namespace, Logger: quietSDKLogger{}})
	if err != nil {
		return fmt.Errorf("devserver: connect to embedded frontend: %w", err)
	}
	defer c.Close()
	if _, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: o.Namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(o.Retention)},
	}); err != nil {
		return fmt.Errorf("devserver: set namespace retention: %w", err)
	}
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: o.Namespace})
	if err != nil {
		return fmt.Errorf("devserver: list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range o.SearchAttributes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) > 0 {
		if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: o.Namespace, SearchAttributes: missing,
		}); err != nil {
			return fmt.Errorf("devserver: add search attributes: %w", err)
		}
	}
	return nil
}

// startUI serves the Web UI on o.UIAddress. The UI server itself listens
// on a loopback port of its own; in front of it, on o.UIAddress, a proxy
// answers only requests whose Host is that address, so that a web page
// elsewhere cannot reach the UI through a DNS name rebound to this
// machine (the UI has no sign-in of its own).
func (s *Server) startUI(o Options) error {
	if _, _, err := net.SplitHostPort(o.UIAddress); err != nil {
		return fmt.Errorf("ui address %q: %w", o.UIAddress, err)
	}
	front, err := net.Listen("tcp", o.UIAddress)
	if err != nil {
		return fmt.Errorf("ui address %s is taken: %w", o.UIAddress, err)
	}
	port, err := freePort("127.0.0.1")
	if err != nil {
		_ = front.Close()
		return err
	}
	inner := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	s.uiFront = &http.Server{Handler: HostOnly(UIHosts(front.Addr().String(), o.UIAddress), httputil.NewSingleHostReverseProxy(inner)),
		ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.uiFront.Serve(front); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("temporal web ui front stopped", slog.String("error", err.Error()))
		}
	}()
	s.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                "127.0.0.1",
		Port:                port,
		TemporalGRPCAddress: o.Address,
		EnableUI:            true,
		DefaultNamespace:    o.Namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
	}))
	go func() {
		if err := s.ui.Start(); err != nil {
			o.Logger.Error("temporal web ui stopped", slog.String("error", err.Error()))
		}
	}()
	o.Logger.Info("temporal web ui listening", slog.String("addr", o.UIAddress))
	return nil
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// slogAdapter lets the server log through slog. The server is chatty at
// info level; only warnings and errors pass.
type slogAdapter struct {
	l    *slog.Logger
	tags []tag.Tag
}

var _ log.Logger = (*slogAdapter)(nil)

func (a *slogAdapter) attrs(tags []tag.Tag) []any {
	out := make([]any, 0, len(a.tags)+len(tags))
	for _, t := range append(append([]tag.Tag{}, a.tags...), tags...) {
		out = append(out, slog.Any(t.Key(), t.Value()))
	}
	return out
}

func (a *slogAdapter) Debug(string, ...tag.Tag) {}
func (a *slogAdapter) Info(string, ...tag.Tag)  {}
func (a *slogAdapter) Warn(msg string, tags ...tag.Tag) {
	a.l.Warn(msg, a.attrs(tags)...)
}
func (a *slogAdapter) Error(msg string, tags ...tag.Tag) {
	a.l.Error(msg, a.attrs(tags)...)
}
func (a *slogAdapter) DPanic(msg string, tags ...tag.Tag) { a.l.Error(msg, a.attrs(tags)...) }
func (a *slogAdapter) Panic(msg string, tags ...tag.Tag) {
	a.l.Error(msg, a.attrs(tags)...)
	panic(msg)
}
func (a *slogAdapter) Fatal(msg string, tags ...tag.Tag) {
	a.l.Error(msg, a.attrs(tags)...)
	os.Exit(1)
}

// With returns a logger that adds tags to every line.
func (a *slogAdapter) With(tags ...tag.Tag) log.Logger {
	return &slogAdapter{l: a.l, tags: append(append([]tag.Tag{}, a.tags...), tags...)}
}

// quietSDKLogger silences the SDK client used for setup.
type quietSDKLogger struct{}

func (quietSDKLogger) Debug(string, ...any) {}
func (quietSDKLogger) Info(string, ...any)  {}
func (quietSDKLogger) Warn(string, ...any)  {}
func (quietSDKLogger) Error(string, ...any) {}

// UIHosts lists the Host headers the Web UI answers: the address it
// listens on as configured and as bound, and for a loopback or unspecified
// host the loopback names with its port.
func UIHosts(bound, configured string) []string {
	hosts := []string{strings.ToLower(bound), strings.ToLower(configured)}
	if host, port, err := net.SplitHostPort(bound); err == nil {
		if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
			for _, h := range []string{"127.0.0.1", "localhost", "::1"} {
				hosts = append(hosts, net.JoinHostPort(h, port))
			}
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// HostOnly answers 421 Misdirected Request to a request whose Host header
// is not one of hosts, and passes the others to next.
func HostOnly(hosts []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(hosts, strings.ToLower(r.Host)) {
			http.Error(w, "This server answers only requests to its own address.", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}
