"""The system of record: tables, migrations, intake of assessed posts, clocks, cases, alerts and exports."""
