package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/relink/relink/registry"
)

func (a *app) importCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Load the connection registry (CSV with a header row, or JSON Lines)",
		Long: `Load the company's connection registry into the cache. Columns:
provider, provider_id, access_token, user_ref, name, email, phone, institution.
access_token is required for plaid and cobalt and is encrypted at rest.
The import is an upsert and atomic: if any row is bad, every bad row is listed
with its line number and nothing of the file is applied. FILE "-" reads stdin.`,
		Args: exactArgs(1, "one FILE (CSV or JSON Lines, or - for stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := a.openCache(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			in, name := a.stdin, "stdin"
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				in, name = f, args[0]
			}
			res, err := registry.Import(ctx, st, in, name, operatorOr(cfg), registry.Defaults{CobaltOrgID: cfg.Cobalt.OrgID})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "imported %d connections from %s\n", res.Rows, name)
			return nil
		},
	}
}
