package store

import (
	"context"
	"errors"
	"fmt"
)

// SetAccessToken replaces a registered connection's access token, sealed
// like an imported one: a provider's exchange gave the connection a token
// other than the one the registry had (Cobalt Link's public token, after
// update mode). ErrNotFound when the connection is not registered.
func (s *Store) SetAccessToken(ctx context.Context, provider, providerID, token string) error {
	if token == "" {
		return errors.New("store: setting an empty access token")
	}
	if s.sealer == nil {
		return errors.New("store: access tokens are encrypted but no secret key is configured (set secret_key_file or RELINK_SECRET_KEY)")
	}
	sealed, err := s.sealer.Seal([]byte(token), provider+":"+providerID)
	if err != nil {
		return fmt.Errorf("store: sealing the access token of %s:%s: %w", provider, providerID, err)
	}
	res, err := s.exec(ctx, `UPDATE connections SET access_token = ?, updated_at = ? WHERE provider = ? AND provider_id = ?`,
		sealed, msv(s.now()), provider, providerID)
	if err != nil {
		return fmt.Errorf("store: setting the access token of %s:%s: %w", provider, providerID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("connection %s:%s: %w", provider, providerID, ErrNotFound)
	}
	return nil
}
