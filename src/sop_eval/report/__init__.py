"""Reporting: tables, plots (each takes ``ax=``), the HTML report and disclosure control."""
