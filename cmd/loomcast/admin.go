package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/loomcast/loomcast/config"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/password"
)

// runMigrate applies pending migrations.
func runMigrate(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.Load(config.ModeMigrate, nil)
	if err != nil {
		return err
	}
	store, err := models.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "database is up to date at version %d\n", models.LatestVersion())
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v; database is at version %d\n", applied, models.LatestVersion())
	return nil
}

// runAdmin handles `admin create-user`.
func runAdmin(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create-user" {
		return errors.New("usage: loomcast admin create-user --email E --role R [--password-stdin]")
	}
	fs := flag.NewFlagSet("create-user", flag.ContinueOnError)
	email := fs.String("email", "", "email address of the account")
	role := fs.String("role", models.RoleAdmin, "role: user, support, privacy or admin")
	name := fs.String("name", "", "display name (default: the email's local part)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !slices.Contains(models.Roles, *role) {
		return fmt.Errorf("--role must be one of %s", strings.Join(models.Roles, ", "))
	}
	if *email == "" {
		return errors.New("--email is required")
	}
	// The dev database is the default, so this works right after `make run`.
	cfg, err := config.Load(config.ModeDev, nil)
	if err != nil {
		return err
	}
	store, err := openChecked(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	existing, err := store.UserByEmail(ctx, *email)
	if err == nil {
		if err := store.SetRole(ctx, existing.ID, *role); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s (%s) now has role %s\n", existing.Email, existing.ID, *role)
		return nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return err
	}
	pw, generated := "", false
	if *pwStdin {
		line, err := readLine(stdin)
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		pw = line
	} else {
		pw, generated = base64.RawURLEncoding.EncodeToString(randomKey()[:18]), true
	}
	if msg := password.Check(pw, *email); msg != "" {
		return fmt.Errorf("password %s", msg)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	display := *name
	if display == "" {
		display, _, _ = strings.Cut(*email, "@")
	}
	// The operator vouches for the address of an account they make.
	u := &models.User{Email: *email, PasswordHash: &hash, DisplayName: display, Role: *role, Timezone: "UTC",
		EmailVerifiedAt: models.Ptr(time.Now().UTC())}
	if err := store.CreateUser(ctx, u); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s (%s) with role %s\n", u.Email, u.ID, u.Role)
	if generated {
		fmt.Fprintf(stdout, "password (shown once): %s\n", pw)
	}
	return nil
}

// readLine reads one line, byte by byte, so that nothing after it is
// consumed from stdin.
func readLine(r io.Reader) (string, error) {
	var sb strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if buf[0] == '\n' {
				break
			}
			sb.WriteByte(buf[0])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimRight(sb.String(), "\r"), nil
}
