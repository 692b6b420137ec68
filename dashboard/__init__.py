"""Streamlit dashboard: thin pages over ledger queries (st.navigation router in app.py)."""
