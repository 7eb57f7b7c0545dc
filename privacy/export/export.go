// Package export builds a person's data export for an access or
// portability request: a zip of every row that holds their data, as JSON
// documented field by field in a README, with the media files they
// uploaded that are still stored, and the right-to-know document made from
// the data map and the retention table (package retention). What to
// export is found from the live schema, not from a hand-kept list of
// tables.
package export

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/loomcast/loomcast/blob"
	"github.com/loomcast/loomcast/media"
	"github.com/loomcast/loomcast/models"
	"github.com/loomcast/loomcast/privacy/scan"
)

// File is one entry of the archive.
type File struct {
	Name string
	// Size is the entry's uncompressed size in bytes.
	Size int64
}

// Manifest says what an archive holds.
type Manifest struct {
	UserID string
	// Files lists every entry in archive order: data files, media,
	// right-to-know.txt, then README.txt.
	Files []File
	// Tables counts the rows exported per table; a table without rows of
	// the person has no entry and no file.
	Tables map[string]int
	// MediaFiles and MediaBytes count the uploaded files included.
	MediaFiles int
	MediaBytes int64
}

// pageSize is how many rows are read per query: the rows of one page are
// read in full before any is written, so no query stays open while the
// archive's reader is slow (on SQLite that would hold the only connection).
const pageSize = 500

// now stamps the archive's entries.
var now = func() time.Time { return time.Now().UTC() }

// Build writes the export of the user's data to w as a zip archive:
//
//   - data/<table>.json for every table holding the user's rows (see plan:
//     the users row, tables naming the user, their children through
//     foreign keys, and rows elsewhere that mention the user's
//     identifiers), each a JSON list of objects in column order, with
//     secrets left out (columns named *_sealed, *_hash, *_secret and
//     posts.upload_session);
//   - media/<upload id>.<ext> for every upload of the user whose file is
//     still in blobs (a deleted upload is listed in data/uploads.json only),
//     streamed from the blob store;
//   - right-to-know.txt (RightToKnow): the categories of personal
//     information, their sources, purposes, recipients and retention,
//     with the files of this archive that hold the person's pieces;
//   - README.txt, saying in plain language what each file and field is.
//
// progress, when not nil, is called with (0, total) first and then after
// each table and each upload, with no query open, so it may write to the
// database. total counts the tables examined and the uploads, and done
// reaches it on success. An unknown user is models.ErrNotFound, reported
// before anything is written. On any error the archive is incomplete and
// must be discarded. The rows are not read in one snapshot: a row written
// while the export runs may or may not be in it.
func Build(ctx context.Context, store *models.Store, blobs blob.Store, userID string, w io.Writer, progress func(done, total int)) (Manifest, error) {
	if progress == nil {
		progress = func(int, int) {}
	}
	db := store.DB().WithContext(ctx)
	u, err := store.UserByID(ctx, userID)
	if err != nil {
		return Manifest{}, fmt.Errorf("export: %w", err)
	}
	var channels []models.Channel
	if err := db.Where("user_id = ?", userID).Order("id").Find(&channels).Error; err != nil {
		return Manifest{}, fmt.Errorf("export: read channels: %w", err)
	}
	var uploads []models.Upload
	if err := db.Where("user_id = ?", userID).Order("id").Find(&uploads).Error; err != nil {
		return Manifest{}, fmt.Errorf("export: read uploads: %w", err)
	}
	tables, err := scan.ReadSchema(ctx, store.DB(), store.Dialect())
	if err != nil {
		return Manifest{}, fmt.Errorf("export: %w", err)
	}
	sources, err := plan(tables, store.Dialect(), userID, mentionIDs(u, channels))
	if err != nil {
		return Manifest{}, fmt.Errorf("export: %w", err)
	}

	total, done := len(sources)+len(uploads), 0
	progress(done, total)
	b := &builder{zw: zip.NewWriter(w), m: Manifest{UserID: userID, Tables: map[string]int{}}}
	var files []dataFile
	for _, s := range sources {
		f, err := b.table(db, store.Dialect(), s)
		if err != nil {
			return Manifest{}, fmt.Errorf("export %s: %w", s.table.Name, err)
		}
		if f.rows > 0 {
			files = append(files, f)
			b.m.Tables[s.table.Name] = f.rows
		}
		done++
		progress(done, total)
	}
	for _, up := range uploads {
		if err := b.media(ctx, blobs, up); err != nil {
			return Manifest{}, fmt.Errorf("export upload %s: %w", up.ID, err)
		}
		done++
		progress(done, total)
	}
	if err := b.write(RightToKnowFile, zip.Deflate, strings.NewReader(RightToKnow(b.m))); err != nil {
		return Manifest{}, fmt.Errorf("export right to know: %w", err)
	}
	if err := b.write("README.txt", zip.Deflate, strings.NewReader(readme(userID, files, b.m.MediaFiles))); err != nil {
		return Manifest{}, fmt.Errorf("export readme: %w", err)
	}
	if err := b.zw.Close(); err != nil {
		return Manifest{}, fmt.Errorf("export: finish archive: %w", err)
	}
	return b.m, nil
}

// mentionIDs are the identifiers whose mention puts a row of an unlinked
// table in the export: those of the account and its channels.
func mentionIDs(u models.User, channels []models.Channel) scan.Identifiers {
	var ids scan.Identifiers
	for _, id := range scan.ForAccount(u, channels).Values {
		if len([]rune(id.Value)) >= scan.MinIdentifierLength {
			ids.Values = append(ids.Values, id)
		}
	}
	return ids
}

// dataFile is one data file written.
type dataFile struct {
	table    scan.Table
	columns  []scan.Column
	withheld []string
	rows     int
	mention  bool
}

type builder struct {
	zw *zip.Writer
	m  Manifest
}

// table writes the source's rows, a page at a time in primary key order
// (rowid or ctid for a table without one), to data/<table>.json. A table
// without matching rows gets no file.
func (b *builder) table(db *gorm.DB, dialect models.Dialect, s source) (dataFile, error) {
	f := dataFile{table: s.table, mention: s.mention}
	for _, c := range s.table.Columns {
		if withheld(s.table.Name, c.Name) != "" {
			f.withheld = append(f.withheld, c.Name)
		} else {
			f.columns = append(f.columns, c)
		}
	}
	selects := quoteAll(columnNames(f.columns))
	key := s.table.PrimaryKey
	keyAt := len(selects)
	order := strings.Join(quoteAll(key), ", ")
	if len(key) == 0 {
		order = "rowid"
		if dialect == models.Postgres {
			order = "ctid"
		}
	} else {
		selects = append(selects, quoteAll(key)...)
	}
	if len(selects) == 0 {
		selects = []string{"1"} // every column is withheld: count the rows only
	}
	base := "SELECT " + strings.Join(selects, ", ") + " FROM " + scan.Quote(s.table.Name) + " WHERE (" + s.where + ")"

	var (
		entry *counter
		last  []any
	)
	for page := 0; ; page++ {
		q, args := base, append([]any{}, s.args...)
		switch {
		case len(key) == 0:
			q += fmt.Sprintf(" ORDER BY %s LIMIT %d OFFSET %d", order, pageSize, page*pageSize)
		case last != nil:
			q += " AND " + columnList(key) + " > " + placeholders(len(key))
			args = append(args, last...)
			fallthrough
		default:
			q += fmt.Sprintf(" ORDER BY %s LIMIT %d", order, pageSize)
		}
		rows, err := readPage(db, q, args, len(selects))
		if err != nil {
			return f, err
		}
		if len(rows) == 0 && entry == nil {
			return f, nil
		}
		if entry == nil {
			if entry, err = b.create("data/"+s.table.Name+".json", zip.Deflate); err != nil {
				return f, err
			}
			if _, err := io.WriteString(entry, "["); err != nil {
				return f, err
			}
		}
		for _, r := range rows {
			sep := ",\n"
			if f.rows == 0 {
				sep = "\n"
			}
			if err := writeRow(entry, sep, f.columns, r[:len(f.columns)]); err != nil {
				return f, err
			}
			f.rows++
		}
		if len(rows) < pageSize {
			break
		}
		if len(key) > 0 {
			last = rows[len(rows)-1][keyAt:]
		}
	}
	if _, err := io.WriteString(entry, "\n]\n"); err != nil {
		return f, err
	}
	b.done(entry)
	return f, nil
}

// readPage runs one query and reads all its rows.
func readPage(db *gorm.DB, q string, args []any, width int) ([][]any, error) {
	rows, err := db.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, width)
		ptrs := make([]any, width)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// media copies an upload's file, if still stored, to media/<id>.<ext>
// without holding it in memory. Video is stored as is, not compressed.
func (b *builder) media(ctx context.Context, blobs blob.Store, up models.Upload) error {
	rc, err := blobs.Open(ctx, up.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	name := "media/" + unsafeName.ReplaceAllString(up.ID, "_") + "." + extension(up.ContentType)
	if err := b.write(name, zip.Store, &ctxReader{ctx: ctx, r: rc}); err != nil {
		return err
	}
	b.m.MediaFiles++
	b.m.MediaBytes += b.m.Files[len(b.m.Files)-1].Size
	return nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// extension names a media file's format.
func extension(contentType string) string {
	switch contentType {
	case media.MP4:
		return "mp4"
	case media.QuickTime:
		return "mov"
	case media.WebM:
		return "webm"
	case media.JPEG:
		return "jpg"
	case media.PNG:
		return "png"
	case media.WebP:
		return "webp"
	}
	return "bin"
}

// create starts an entry; done records it in the manifest.
func (b *builder) create(name string, method uint16) (*counter, error) {
	w, err := b.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: now()})
	if err != nil {
		return nil, err
	}
	return &counter{name: name, w: w}, nil
}

func (b *builder) done(c *counter) {
	b.m.Files = append(b.m.Files, File{Name: c.name, Size: c.n})
}

// write adds a whole entry from r.
func (b *builder) write(name string, method uint16, r io.Reader) error {
	c, err := b.create(name, method)
	if err != nil {
		return err
	}
	if _, err := io.Copy(c, r); err != nil {
		return err
	}
	b.done(c)
	return nil
}

// counter counts the bytes written to an entry.
type counter struct {
	name string
	w    io.Writer
	n    int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func columnNames(cols []scan.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

func placeholders(n int) string {
	if n == 1 {
		return "?"
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}
