#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTreeView>
#include <QUndoGroup>
#include <QUndoView>

#include "findings_view.h"
#include "form_view.h"
#include "json_pane.h"
#include "side_panes.h"

namespace eci::gui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setObjectName(QStringLiteral("mainWindow"));
  setAccessibleName(tr("eci-admin-gui"));
  tabs_ = new QTabWidget(this);
  tabs_->setObjectName(QStringLiteral("documentTabs"));
  tabs_->setAccessibleName(tr("Open files"));
  settings_ = new EditorTab(eci::settings::FileKind::kAdminSettings, tabs_);
  registry_ = new EditorTab(eci::settings::FileKind::kRegistry, tabs_);
  tabs_->addTab(settings_, QString());
  tabs_->addTab(registry_, QString());
  setCentralWidget(tabs_);

  undoGroup_ = new QUndoGroup(this);
  undoGroup_->addStack(settings_->document()->undoStack());
  undoGroup_->addStack(registry_->document()->undoStack());
  undoGroup_->setActiveStack(settings_->document()->undoStack());

  policy_ = new PolicyPane(settings_->document(), registry_->document(), this);
  diff_ = new DiffPane(this);
  diff_->setDocument(settings_->document());
  auto* history = new QUndoView(undoGroup_, this);
  history->setObjectName(QStringLiteral("undoHistory"));
  history->setAccessibleName(tr("Undo history"));
  history->setEmptyLabel(tr("<file as opened>"));

  auto dock = [this](QWidget* w, const QString& title, const QString& name) {
    auto* d = new QDockWidget(title, this);
    d->setObjectName(name);
    d->setWidget(w);
    addDockWidget(Qt::RightDockWidgetArea, d);
    return d;
  };
  QDockWidget* policyDock = dock(policy_, tr("Effective policy"), QStringLiteral("policyDock"));
  QDockWidget* diffDock = dock(diff_, tr("Diff"), QStringLiteral("diffDock"));
  QDockWidget* historyDock = dock(history, tr("History"), QStringLiteral("historyDock"));
  tabifyDockWidget(policyDock, diffDock);
  tabifyDockWidget(diffDock, historyDock);
  policyDock->raise();

  status_ = new QLabel(this);
  status_->setObjectName(QStringLiteral("validity"));
  status_->setAccessibleName(tr("Validity of the current file"));
  statusBar()->addWidget(status_, 1);

  connect(tabs_, &QTabWidget::currentChanged, this, [this] {
    undoGroup_->setActiveStack(currentTab()->document()->undoStack());
    diff_->setDocument(currentTab()->document());
    updateTitle();
    updateStatus();
  });
  for (EditorTab* t : {settings_, registry_}) {
    connect(t->document(), &Document::changed, this, [this] {
      updateTitle();
      updateStatus();
    });
    connect(t->document()->undoStack(), &QUndoStack::cleanChanged, this, &MainWindow::updateTitle);
    connect(t->document(), &Document::pathChanged, this, &MainWindow::updateTitle);
    connect(t, &EditorTab::externalChangeDetected, this, [this, t](const QString& path) {
      tabs_->setCurrentWidget(t);
      statusBar()->showMessage(tr("%1 changed on disk").arg(path), 5000);
    });
  }
  connect(diff_, &DiffPane::pointerActivated, this,
          [this](const QString& p) { currentTab()->form()->selectPointer(p); });

  buildMenus();
  updateTitle();
  updateStatus();
  resize(1400, 860);
}

MainWindow::~MainWindow() {
  // The tab widget reports its pages going away while they are deleted: nothing to update then.
  // So do the undo stacks (cleanChanged) as the documents are deleted.
  disconnect(tabs_, nullptr, this, nullptr);
  for (EditorTab* t : {settings_, registry_}) {
    disconnect(t->document(), nullptr, this, nullptr);
    disconnect(t->document()->undoStack(), nullptr, this, nullptr);
  }
}

EditorTab* MainWindow::currentTab() const {
  return tabs_->currentWidget() == registry_ ? registry_ : settings_;
}

void MainWindow::buildMenus() {
  auto add = [this](QMenu* m, const QString& text, const QKeySequence& key, auto slot) {
    QAction* a = m->addAction(text);
    if (!key.isEmpty()) a->setShortcut(key);
    connect(a, &QAction::triggered, this, slot);
    return a;
  };
  QMenu* file = menuBar()->addMenu(tr("&File"));
  add(file, tr("&New admin-settings.json"), QKeySequence::New,
      [this] { newDocument(eci::settings::FileKind::kAdminSettings); });
  add(file, tr("New &registry.json"), QKeySequence(tr("Ctrl+Shift+N")),
      [this] { newDocument(eci::settings::FileKind::kRegistry); });
  add(file, tr("&Open..."), QKeySequence::Open, [this] { openInteractive(); });
  add(file, tr("&Import organisations from .mobileconfig / desktop.plist..."), QKeySequence(),
      [this] { importInteractive(); });
  file->addSeparator();
  add(file, tr("&Save"), QKeySequence::Save, [this] { saveCurrent(); });
  add(file, tr("Save &As..."), QKeySequence::SaveAs, [this] { saveAsInteractive(); });
  file->addSeparator();
  add(file, tr("&Compare with file..."), QKeySequence(tr("Ctrl+D")),
      [this] { compareInteractive(); });
  add(file, tr("Compare with &deployed copy"), QKeySequence(tr("Ctrl+Shift+D")),
      [this] { compareWithDeployed(); });
#ifdef ECI_GUI_HAVE_MDM
  QMenu* exp = file->addMenu(tr("&Export for MDM"));
  const std::pair<eci::settings::mdm::Target, QString> targets[] = {
      {eci::settings::mdm::Target::kJamf, tr("&Jamf (macOS profile, plist, script)...")},
      {eci::settings::mdm::Target::kIntune, tr("&Intune (PowerShell, ADMX)...")},
      {eci::settings::mdm::Target::kGpo, tr("&Group Policy (.reg, ADMX, script)...")},
      {eci::settings::mdm::Target::kLinux, tr("&Linux (install script)...")},
  };
  for (const auto& [t, label] : targets) {
    const int ti = static_cast<int>(t);
    add(exp, label, QKeySequence(), [this, ti] { exportInteractive(ti); });
  }
#endif
  file->addSeparator();
  add(file, tr("&Quit"), QKeySequence::Quit, [this] { close(); });

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  // Own actions rather than QUndoGroup's: typing in the JSON pane reaches the document after a
  // pause, and it must be pushed before undo runs so that undo takes it.
  QAction* undo = new QAction(tr("&Undo"), this);
  undo->setObjectName(QStringLiteral("undoAction"));
  undo->setShortcut(QKeySequence::Undo);
  connect(undo, &QAction::triggered, this, [this] {
    currentTab()->json()->flush();
    undoGroup_->undo();
  });
  QAction* redo = new QAction(tr("&Redo"), this);
  redo->setObjectName(QStringLiteral("redoAction"));
  redo->setShortcut(QKeySequence::Redo);
  connect(redo, &QAction::triggered, this, [this] {
    currentTab()->json()->flush();
    undoGroup_->redo();
  });
  connect(undoGroup_, &QUndoGroup::undoTextChanged, undo,
          [undo](const QString& t) { undo->setText(tr("&Undo %1").arg(t)); });
  connect(undoGroup_, &QUndoGroup::redoTextChanged, redo,
          [redo](const QString& t) { redo->setText(tr("&Redo %1").arg(t)); });
  edit->addAction(undo);
  edit->addAction(redo);
  edit->addSeparator();
  add(edit, tr("&Find setting"), QKeySequence::Find, [this] {
    currentTab()->form()->searchField()->setFocus(Qt::ShortcutFocusReason);
    currentTab()->form()->searchField()->selectAll();
  });
  add(edit, tr("&Next finding"), QKeySequence(Qt::Key_F8), [this] { currentTab()->nextFinding(); });

  QMenu* view = menuBar()->addMenu(tr("&View"));
  add(view, tr("Go to &form"), QKeySequence(tr("Alt+1")),
      [this] { currentTab()->form()->tree()->setFocus(Qt::ShortcutFocusReason); });
  add(view, tr("Go to &JSON text"), QKeySequence(tr("Alt+2")),
      [this] { currentTab()->json()->editor()->setFocus(Qt::ShortcutFocusReason); });
  add(view, tr("Go to f&indings"), QKeySequence(tr("Alt+3")),
      [this] { currentTab()->findings()->setFocus(Qt::ShortcutFocusReason); });
  add(view, tr("Next &tab"), QKeySequence(tr("Ctrl+Tab")),
      [this] { tabs_->setCurrentIndex((tabs_->currentIndex() + 1) % tabs_->count()); });
  view->addSeparator();
  for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());
}

void MainWindow::updateTitle() {
  for (EditorTab* t : {settings_, registry_}) {
    Document* d = t->document();
    tabs_->setTabText(tabs_->indexOf(t),
                      d->label() + (d->modified() ? QStringLiteral(" *") : QString()));
    tabs_->setTabToolTip(tabs_->indexOf(t), d->path().isEmpty() ? tr("not saved yet") : d->path());
  }
  Document* d = currentTab()->document();
  setWindowTitle(QStringLiteral("%1[*] \u2014 eci-admin-gui")
                     .arg(d->path().isEmpty() ? d->label() : d->path()));
  setWindowModified(d->modified());
}

void MainWindow::updateStatus() {
  const auto& r = currentTab()->document()->report();
  size_t errors = 0, warnings = 0;
  for (const auto& f : r.findings)
    (f.severity == eci::settings::Severity::kError ? errors : warnings)++;
  status_->setText(
      tr("%1: %2 (%3 error(s), %4 warning(s))")
          .arg(currentTab()->document()->label(), r.valid() ? tr("valid") : tr("invalid"))
          .arg(errors)
          .arg(warnings));
}

void MainWindow::closeEvent(QCloseEvent* e) {
  for (EditorTab* t : {settings_, registry_}) {
    if (!maybeDiscard(t)) {
      e->ignore();
      return;
    }
  }
  e->accept();
}

}  // namespace eci::gui
