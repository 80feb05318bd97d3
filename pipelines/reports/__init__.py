"""What people read: model cards, drift reports, the Models page and the status summary.

Modules: html, model_card, card_analysis, card_plots, card_page, drift_report, models_page, status.
"""
