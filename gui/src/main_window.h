// eci-admin-gui's main window: a tab per file (admin-settings.json, registry.json), each an
// EditorTab; the effective policy, the diff and the undo history as docks; menus and shortcuts
// for everything (keyboard-only use). File handling (open, save with the validity check, import,
// compare, MDM export) is in main_window_files.cc.
#pragma once

#include <QMainWindow>
#include <optional>

#include "editor_tab.h"

#if __has_include("eci/settings/mdm_export.h")
#include "eci/settings/mdm_export.h"
#define ECI_GUI_HAVE_MDM 1
#endif

class QTabWidget;
class QUndoGroup;
class QDockWidget;
class QLabel;

namespace eci::gui {

class PolicyPane;
class DiffPane;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  EditorTab* settingsTab() const { return settings_; }
  EditorTab* registryTab() const { return registry_; }
  EditorTab* currentTab() const;
  PolicyPane* policyPane() const { return policy_; }
  DiffPane* diffPane() const { return diff_; }
  QUndoGroup* undoGroup() const { return undoGroup_; }
  QTabWidget* tabs() const { return tabs_; }

  // Opens `path` in the tab of its kind (detected from content, then name). False + message box
  // only when `interactive`; tests read lastError().
  bool openFile(const QString& path, bool interactive = true);
  // Saves the current tab to `path` ("" = its own path, asking for one when it has none). An
  // invalid document is written only after the user confirms (QMessageBox "confirmInvalidSave").
  bool saveCurrent(const QString& path = {});
  bool importOrgs(const QString& path);
  bool compareWithFile(const QString& path);
  bool compareWithDeployed();
  void newDocument(eci::settings::FileKind kind);
  QString lastError() const { return lastError_; }

#ifdef ECI_GUI_HAVE_MDM
  // Exports both open documents for `target` into `dir` with the library `eci-admin export` uses;
  // an invalid input is exported only after the user confirms.
  bool exportTo(eci::settings::mdm::Target target, const QString& dir);
  eci::settings::mdm::ExportInput exportInput() const;
#endif

 protected:
  void closeEvent(QCloseEvent* e) override;

 private:
  void buildMenus();
  void updateTitle();
  void updateStatus();
  bool maybeDiscard(EditorTab* tab);
  bool confirmInvalid(const QString& what, const eci::settings::Report& r);
  void fail(const QString& message, bool interactive);
  void saveAsInteractive();
  void openInteractive();
  void importInteractive();
  void compareInteractive();
  void exportInteractive(int target);

  QTabWidget* tabs_;
  EditorTab* settings_;
  EditorTab* registry_;
  QUndoGroup* undoGroup_;
  PolicyPane* policy_;
  DiffPane* diff_;
  QLabel* status_;
  QString lastError_;
};

}  // namespace eci::gui
