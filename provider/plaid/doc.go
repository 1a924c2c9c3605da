// Package plaid is relink's hand-written client of the Plaid API (version
// 2020-09-14, see shared/providers/PLAID.md): it polls Items with /item/get,
// mints update-mode links with /link/token/create, verifies the ES256-signed
// Plaid-Verification header of webhooks and maps webhook bodies. Every answer
// is turned into a health.Signal through the pure mapping in package health;
// nothing here touches the store.
//
// Secrets stay inside: errors name the call, the Plaid code and what to do,
// never the secret or an access token.
package plaid
