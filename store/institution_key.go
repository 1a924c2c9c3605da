package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/relink/relink/internal/institution"
)

// fillInstitutionKeys is the Go step of migration 0010: every Cobalt
// connection's institution_key is made from its EHR domain
// (institution.SortKey), which SQL cannot; the banks' keys the migration's
// SQL made. The keys are read first and written after, in one pass.
func fillInstitutionKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, institution FROM connections WHERE provider = 'cobalt'`)
	if err != nil {
		return fmt.Errorf("reading the Cobalt institutions: %w", err)
	}
	type key struct {
		id  int64
		key string
	}
	var keys []key
	for rows.Next() {
		var id int64
		var raw string
		if err := rows.Scan(&id, &raw); err != nil {
			rows.Close()
			return fmt.Errorf("reading the Cobalt institutions: %w", err)
		}
		keys = append(keys, key{id, institution.SortKey("cobalt", raw)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the Cobalt institutions: %w", err)
	}
	set, err := tx.PrepareContext(ctx, `UPDATE connections SET institution_key = ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("ordering the Cobalt institutions: %w", err)
	}
	defer set.Close()
	for _, k := range keys {
		if _, err := set.ExecContext(ctx, k.key, k.id); err != nil {
			return fmt.Errorf("ordering the Cobalt institutions: %w", err)
		}
	}
	return nil
}
